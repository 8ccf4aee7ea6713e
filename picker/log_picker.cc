#include "picker/log_picker.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/fft.h"
#include "core/filters.h"
#include "core/parallel.h"
#include "picker/local_stats.h"

namespace emkit {

void LogOptions::Check() const {
  auto bad = [](const std::string& field, const std::string& why) {
    throw InvalidInputError("LoG option " + field + ": " + why);
  };
  if (!(diameter_min > 0)) bad("diameter_min", "must be > 0 (Å)");
  if (!(diameter_max >= diameter_min)) bad("diameter_max", "must be >= diameter_min");
  if (num_scales < 1) bad("num_scales", "must be >= 1");
  if (!(texture_weight >= 0)) bad("texture_weight", "must be >= 0");
  if (threads < 1) bad("threads", "must be >= 1");
}

LogScoreMapper::LogScoreMapper(const LogOptions& opt) : opt_(opt) {
  opt.Check();
  if (opt.num_scales == 1 || opt.diameter_max == opt.diameter_min) {
    diameters_ = {std::sqrt(opt.diameter_min * opt.diameter_max)};
  } else {
    for (int i = 0; i < opt.num_scales; ++i)
      diameters_.push_back(opt.diameter_min *
                           std::pow(opt.diameter_max / opt.diameter_min, double(i) / (opt.num_scales - 1)));
  }
}

// Robust standard units (median, 1.4826 x MAD): contamination must not shrink the scores
// of every particle on the micrograph.
static void RobustStandardise(Image* im) {
  std::vector<float> v(im->begin(), im->end());
  const std::size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + mid, v.end());
  const double median = v[mid];
  for (auto& x : v) x = static_cast<float>(std::fabs(x - median));
  std::nth_element(v.begin(), v.begin() + mid, v.end());
  double spread = 1.4826 * v[mid];
  if (!(spread > 0)) spread = ComputeStats(*im).stddev;
  const double inv = spread > 0 ? 1.0 / spread : 1.0;
  for (auto& x : *im) x = static_cast<float>((x - median) * inv);
}

Image LogScoreMapper::BestResponse(const FourierGrid& f, double pixel_size, int nx, int ny,
                                   std::vector<int>* best_scale) const {
  const int ns = static_cast<int>(diameters_.size());
  std::vector<Image> responses(ns);
  // -sigma^2 LoG in Fourier space: sigma^2 * 4 pi^2 |k|^2 exp(-2 pi^2 sigma^2 |k|^2), k in cycles/px.
  ParallelFor(opt_.threads, ns, [&](std::size_t s, int) {
    const double sigma = diameters_[s] / 2 / std::sqrt(2.0) / pixel_size;
    FourierGrid g = f;
    ApplyRadial(&g, 1.0, [&](double k) {  // k in cycles per pixel
      const double k2 = k * k;
      return sigma * sigma * 4 * M_PI * M_PI * k2 * std::exp(-2 * M_PI * M_PI * sigma * sigma * k2);
    });
    responses[s] = InverseFft(g, 1);
  });
  Image best(nx, ny, 1, -std::numeric_limits<float>::infinity());
  if (best_scale) best_scale->assign(best.size(), 0);
  for (int s = 0; s < ns; ++s)
    for (std::size_t i = 0; i < best.size(); ++i)
      if (responses[s][i] > best[i]) {
        best[i] = responses[s][i];
        if (best_scale) (*best_scale)[i] = s;
      }
  return best;
}

Image LogScoreMapper::Score(const PreprocessedMicrograph& m) {
  const int nx = m.image.nx(), ny = m.image.ny();
  // The filters run on the micrograph mirrored outwards by three sigmas of the widest filter
  // (plus the texture high-pass), so no filter sees the opposite edge through the FFT's wrap-around:
  // a periodic grid turns any difference between opposite edges into a step that the LoG
  // answers more strongly than any particle.
  const double mean_diameter = std::sqrt(diameters_.front() * diameters_.back());
  const double texture_sigma = mean_diameter / 16 / m.pixel_size;
  const double widest = diameters_.back() / 2 / std::sqrt(2.0) / m.pixel_size;
  const int pad = static_cast<int>(std::ceil(3 * widest + (opt_.texture_weight > 0 ? 3 * texture_sigma : 0))) + 1;
  const int pnx = NiceFftSize(nx + 2 * pad), pny = NiceFftSize(ny + 2 * pad);
  const FourierGrid f = Fft(MirrorPad(m.image, pad, pad, pnx, pny), opt_.threads);
  std::vector<int> scale_padded;
  Image best = Crop(BestResponse(f, m.pixel_size, pnx, pny, &scale_padded), pad, pad, nx, ny);
  best_scale_.assign(static_cast<std::size_t>(nx) * ny, 0);
  for (int y = 0; y < ny; ++y)
    std::copy_n(&scale_padded[static_cast<std::size_t>(y + pad) * pnx + pad], nx, &best_scale_[std::size_t(y) * nx]);
  RobustStandardise(&best);
  if (opt_.texture_weight > 0) {
    // Texture energy: the micrograph high-passed (1 - Gaussian of sigma = diameter / 16),
    // squared, then the same LoG blob detection. Particles carry most of their CTF-modulated
    // contrast at these frequencies, while ice gradients and thick blobs are smooth.
    FourierGrid g = f;
    ApplyRadial(&g, 1.0,
                [&](double k) { return 1 - std::exp(-2 * M_PI * M_PI * texture_sigma * texture_sigma * k * k); });
    Image energy = InverseFft(g, opt_.threads);
    for (auto& x : energy) x *= x;
    Image texture = Crop(BestResponse(Fft(energy, opt_.threads), m.pixel_size, pnx, pny, nullptr), pad, pad, nx, ny);
    RobustStandardise(&texture);
    for (std::size_t i = 0; i < best.size(); ++i)
      best[i] = static_cast<float>(best[i] + opt_.texture_weight * texture[i]);
    RobustStandardise(&best);
  }
  nx_ = nx;
  ny_ = ny;
  return best;
}

void LogScoreMapper::Annotate(std::vector<Coordinate>* peaks) const {
  if (best_scale_.empty()) return;
  for (auto& p : *peaks) {
    const int x = std::clamp(static_cast<int>(std::lround(p.x)), 0, nx_ - 1);
    const int y = std::clamp(static_cast<int>(std::lround(p.y)), 0, ny_ - 1);
    p.class_number = best_scale_[static_cast<std::size_t>(y) * nx_ + x] + 1;
  }
}

}  // namespace emkit
