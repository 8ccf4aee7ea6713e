// Laplacian-of-Gaussian blob detection as RELION 3's LoG autopicker does it: the scale-
// normalised response -sigma^2 * LoG(sigma) * image for sigmas matching diameters between
// diameter_min and diameter_max (a disk of radius r responds best at sigma = r / sqrt(2)),
// best scale per pixel, expressed in robust standard deviations (median, 1.4826 x MAD) of
// that best-response map. By default the same detection on the texture energy (micrograph
// high-passed at sigma = diameter / 16 and squared) is added and the sum re-standardised:
// at low SNR the CTF-modulated particles are found far more reliably by their texture than
// by their weak mean contrast.
#pragma once

#include <string>
#include <vector>

#include "picker/score_map.h"

namespace emkit {

struct LogOptions {
  double diameter_min = 0;  // Å
  double diameter_max = 0;  // Å
  int num_scales = 5;       // geometric steps between min and max (1 = the mean diameter)
  // Weight of the texture-energy LoG map (high-passed micrograph squared) added to the
  // intensity LoG map before the final robust standardisation; 0 = intensity LoG only.
  double texture_weight = 1;
  int threads = 1;
  void Check() const;
};

class LogScoreMapper : public ScoreMapper {
 public:
  explicit LogScoreMapper(const LogOptions& opt);
  // Particles must be bright (PreprocessOptions::invert for dark particles).
  Image Score(const PreprocessedMicrograph& micrograph) override;
  std::string name() const override { return "log"; }
  // class_number = 1-based best scale (1 = smallest diameter).
  void Annotate(std::vector<Coordinate>* peaks) const override;
  const std::vector<double>& diameters() const { return diameters_; }

 private:
  Image BestResponse(const FourierGrid& f, double pixel_size, int nx, int ny, std::vector<int>* best_scale) const;
  LogOptions opt_;
  std::vector<double> diameters_;
  std::vector<int> best_scale_;
  int nx_ = 0, ny_ = 0;
};

}  // namespace emkit
