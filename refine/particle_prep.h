// Particle preparation for the 2D E-step: read a section of a stack, re-centre by the current
// offset, soft circular mask (zeros or noise outside), centred FFT, CTF, and keep only the
// Fourier pixels within the current image size.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/ctf.h"
#include "core/image.h"
#include "core/random.h"
#include "io/mrc.h"
#include "io/particles.h"

namespace emkit {

// The pixels of the Hermitian half of an n x n transform with |k| < current_size / 2.
struct FourierPixels {
  int n = 0;               // box size
  int current_size = 0;    // even, <= n
  std::vector<int> index;  // y * (n/2+1) + x
  std::vector<int> kx, ky, shell;
  int size() const { return static_cast<int>(index.size()); }
};
FourierPixels SelectPixels(int n, int current_size);

// Reads particle images section by section; MRC headers are read once per stack.
class ParticleReader {
 public:
  ParticleReader(const ParticleSet& set, const std::string& star_path);
  int count() const { return static_cast<int>(stacks_.size()); }
  int box() const { return box_; }
  double pixel_size() const { return pixel_size_; }
  Image Read(int i) const;
  CtfParams CtfOf(int i) const { return ctf_[i]; }

 private:
  void CheckFinite(const ParticleSet& set, const std::string& star_path) const;
  std::vector<int> stacks_, sections_;
  std::vector<std::string> paths_;
  std::vector<MrcHeader> headers_;
  std::vector<CtfParams> ctf_;
  int box_ = 0;
  double pixel_size_ = 1;
};

struct PrepOptions {
  double mask_radius_px = 0, mask_edge_px = 5;
  bool zero_mask = false;
  bool ctf = true, only_flip_phases = false, ctf_intact_first_peak = false;
  bool highres_power = false;  // fill PreparedParticle::highres_power (RELION's --norm)
};

struct PreparedParticle {
  std::vector<Complex> x;    // image at the selected pixels (centred transform, re-centred by the offset)
  std::vector<float> ctf;    // CTF (or 1) at the selected pixels
  double highres_power = 0;  // sum |X|^2 over the Hermitian half beyond the selected pixels (shells <= n/2)
  int only_class = -1;       // >= 0: the E-step gives the particle weight in this class only (RELION's seeds)
};

// CTF on the selected pixels with RELION's options (phase flip, intact until the first peak).
std::vector<float> CtfAtPixels(const CtfParams& p, double pixel_size, const FourierPixels& px, const PrepOptions& opt);

// sigma2 (per shell, for the noise fill outside the mask) may be empty when zero_mask is set.
// `intensity` multiplies the image first (RELION's norm correction: avg_norm / norm of the particle).
void PrepareParticle(const Image& img, double offset_x_px, double offset_y_px, const CtfParams& ctf, double pixel_size,
                     const PrepOptions& opt, const FourierPixels& px, const std::vector<double>& sigma2, Rng* rng,
                     PreparedParticle* out, double intensity = 1);

}  // namespace emkit
