// Fourier-slice projection of a 3D map, as RELION's Projector does it (src/projector.cpp):
// the map is divided by the transform of the interpolation kernel (gridding correction,
// sinc^2 for trilinear), zero-padded `padding` times, transformed once, and every projection
// is the central section V(A^T (kx, ky, 0)) sampled with trilinear interpolation, up to the
// Nyquist circle of the output image. Output images are line integrals (sums of voxels
// along the viewing direction), centred at (n/2, n/2) like the map at (n/2, n/2, n/2) (integer
// division; relion_project puts odd-sized projections at n/2 + 1, see simulate_relion_test).
// Thread-safe after construction: one Projector serves every thread.
#pragma once

#include <cstddef>
#include <vector>

#include "core/ctf.h"
#include "core/geometry.h"
#include "core/image.h"

namespace emkit {

struct ProjectorOptions {
  int padding = 2;                  // RELION's --pad
  bool gridding_correction = true;  // divide by sinc^2 before the transform (RELION does)
  // > 0: only frequencies up to this radius (Fourier pixels of a map-sized image, e.g. a
  // refinement's current image size / 2) are kept, as RELION's projector keeps r_max: the stored
  // transform is a cube of about (2 padding max_radius)^3 / 2 instead of the padded map's, and
  // projections are zero beyond it. 0: up to Nyquist.
  double max_radius = 0;
};

class Projector {
 public:
  // `map` must be a cube; `pixel_size` in Å (> 0).
  Projector(const Volume& map, double pixel_size, const ProjectorOptions& opt = {});

  int map_size() const { return n_; }
  double pixel_size() const { return pixel_size_; }

  // Central section for orientation `a` (EulerToMatrix) on a box x box image of pixel size
  // `out_pixel_size` (the map is resampled: any ratio of pixel sizes works), in the layout
  // of CentredFft (origin at box/2). Values are scaled so that the inverse is the line
  // integral of the map resampled to the output pixel size. Frequencies beyond the output
  // Nyquist circle or the map's Nyquist frequency are zero.
  // `max_radius` (output Fourier pixels, > 0) limits the slice further, as a refinement's
  // current image size does.
  FourierGrid Slice(const Mat3& a, int box, double out_pixel_size, double max_radius = 0) const;
  // The same section at `count` given frequencies (kx[i] >= 0, ky[i]) of a box x box image at the
  // map's own pixel size: out[i] = Slice(a, box, pixel_size())(kx[i], ky[i]) within the map's
  // Nyquist frequency and max_radius (zero beyond). The E-step's form: only the pixels of the
  // current image size.
  void SliceAt(const Mat3& a, int box, const int* kx, const int* ky, int count, Complex* out) const;

  // RELION's power spectrum of the reference (its tau2, computeFourierTransformMap): per shell
  // 0..n/2, mean |V|^2 / 2 over the padded transform's samples within max_shell (shell =
  // round(padded radius / padding); 0 beyond max_shell). max_shell must be within max_radius.
  std::vector<double> PowerSpectrum(int max_shell) const;
  // Bytes of the stored transform.
  std::size_t bytes() const { return (cropped_ ? crop_.size() : data_.grid().size()) * sizeof(Complex); }

  // Real-space projection in orientation e, shifted by (shift_x, shift_y) output pixels
  // (the image holds the projection moved by +shift), optionally multiplied by a CTF.
  Image Project(const Euler& e, int box, double out_pixel_size, double shift_x = 0, double shift_y = 0,
                const Ctf* ctf = nullptr) const;

 private:
  Complex Sample(double x, double y, double z) const;
  // The stored coefficient at padded frequency (x >= 0, y, z); zero outside the transform.
  Complex Stored(int x, int y, int z) const;
  // Output pixels (of a box x box image) beyond which a projection is zero: the map's Nyquist
  // frequency or max_radius.
  double LimitRadius(int box) const;

  int n_ = 0, padded_ = 0;
  double pixel_size_ = 1;
  double max_radius_ = 0;
  FourierGrid data_;  // centred transform of the padded, gridding-corrected map (unless cropped)
  // Cropped (max_radius): frequencies x in [0, crop_r_], y, z in [-crop_r_, crop_r_] of that
  // transform, at ((z + r) (2r + 1) + y + r) (r + 1) + x.
  bool cropped_ = false;
  int crop_r_ = 0;
  std::vector<Complex> crop_;
};

// Real-space attenuation sinc^2(pi x / m) that linear interpolation on a Fourier grid of m samples
// per axis causes at x samples from the centre (1 at x = 0). Gridding corrections divide by it:
// per axis in 2D (bilinear), radially in 3D (RELION's griddingCorrect for trilinear).
double LinearInterpolationSinc2(double x, double m);
// RELION's griddingCorrect: divides a cube centred at n/2 by sinc^2(r / padded_size) (r = 0: 1).
void GriddingCorrect(Volume* v, double padded_size);

// Applies a CTF (and nothing else) to a centred or plain square transform (the CTF is even).
void MultiplyByCtf(FourierGrid* g, const Ctf& ctf, double pixel_size);

// Real-space line integral along the viewing direction of orientation e, by sampling the
// map trilinearly at `oversampling` points per voxel along each ray. Slow; for tests.
Image RealSpaceProject(const Volume& map, const Euler& e, int oversampling = 2);

}  // namespace emkit
