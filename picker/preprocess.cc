#include "picker/preprocess.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/fft.h"
#include "core/filters.h"

namespace emkit {

void PreprocessOptions::Check() const {
  auto bad = [](const std::string& field, const std::string& why) {
    throw InvalidInputError("preprocessing option " + field + ": " + why);
  };
  if (working_pixel_size < 0) bad("working_pixel_size", "must be >= 0");
  if (particle_diameter < 0) bad("particle_diameter", "must be >= 0");
  if (diameter_px_target <= 0) bad("diameter_px_target", "must be > 0");
  if (highpass_angstrom < 0) bad("highpass_angstrom", "must be >= 0");
  if (lowpass_angstrom < 0) bad("lowpass_angstrom", "must be >= 0");
  if (!(local_normalise_angstrom >= 0)) bad("local_normalise_angstrom", "must be >= 0");
  if (highpass_angstrom > 0 && lowpass_angstrom > 0 && highpass_angstrom <= lowpass_angstrom)
    bad("highpass_angstrom", "must be larger (coarser) than lowpass_angstrom");
  if (threads < 1) bad("threads", "must be >= 1");
}

namespace {

// Median and scaled median absolute deviation (a robust standard deviation) of an image.
void RobustMeanStd(const Image& img, double* centre, double* spread) {
  std::vector<float> v(img.begin(), img.end());
  const std::size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + mid, v.end());
  const double median = v[mid];
  for (auto& x : v) x = static_cast<float>(std::fabs(x - median));
  std::nth_element(v.begin(), v.begin() + mid, v.end());
  *centre = median;
  *spread = 1.4826 * v[mid];
}

// (v - mean) / std with the mean and std over a (2h+1)^2 window around each pixel, cut at the
// image edges; summed-area tables in double make it O(pixels) for any window.
void LocalNormalise(Image* img, int h) {
  const int nx = img->nx(), ny = img->ny();
  const std::size_t w = static_cast<std::size_t>(nx) + 1;
  std::vector<double> s1(w * (ny + 1), 0.0), s2(w * (ny + 1), 0.0);
  for (int y = 0; y < ny; ++y) {
    double r1 = 0, r2 = 0;
    for (int x = 0; x < nx; ++x) {
      const double v = (*img)(x, y);
      r1 += v;
      r2 += v * v;
      s1[(y + 1) * w + x + 1] = s1[y * w + x + 1] + r1;
      s2[(y + 1) * w + x + 1] = s2[y * w + x + 1] + r2;
    }
  }
  for (int y = 0; y < ny; ++y) {
    const int y0 = std::max(0, y - h), y1 = std::min(ny, y + h + 1);
    for (int x = 0; x < nx; ++x) {
      const int x0 = std::max(0, x - h), x1 = std::min(nx, x + h + 1);
      auto box = [&](const std::vector<double>& s) {
        return s[y1 * w + x1] - s[y0 * w + x1] - s[y1 * w + x0] + s[y0 * w + x0];
      };
      const double n = static_cast<double>(x1 - x0) * (y1 - y0);
      const double mean = box(s1) / n;
      const double var = box(s2) / n - mean * mean;
      (*img)(x, y) = static_cast<float>(var > 1e-12 ? ((*img)(x, y) - mean) / std::sqrt(var) : 0.0);
    }
  }
}

}  // namespace

PreprocessedMicrograph PreprocessMicrograph(const Image& micrograph, double pixel_size, const PreprocessOptions& opt) {
  opt.Check();
  if (micrograph.empty() || micrograph.nz() != 1)
    throw InvalidInputError("preprocessing: micrograph must be a non-empty 2D image");
  if (!(pixel_size > 0)) throw InvalidInputError("preprocessing: micrograph pixel size must be > 0");
  PreprocessedMicrograph out;
  out.original_nx = micrograph.nx();
  out.original_ny = micrograph.ny();

  double target = opt.working_pixel_size;
  if (target <= 0 && opt.particle_diameter > 0) target = opt.particle_diameter / opt.diameter_px_target;
  if (target < pixel_size) target = pixel_size;  // never upsample
  // One bin factor for both axes, from x; the y size is rounded with it (error < 1/2 binned px).
  const int nx = std::max(8, static_cast<int>(std::lround(micrograph.nx() * pixel_size / target)));
  const double bin = static_cast<double>(micrograph.nx()) / nx;
  const int ny = std::max(8, static_cast<int>(std::lround(micrograph.ny() / bin)));
  out.bin_factor = bin;
  out.pixel_size = pixel_size * bin;

  const bool filter = opt.highpass_angstrom > 0 || opt.lowpass_angstrom > 0;
  if (nx != micrograph.nx() || ny != micrograph.ny() || filter) {
    FourierGrid f = Fft(micrograph, opt.threads);
    if (nx != micrograph.nx() || ny != micrograph.ny()) f = FourierResize(f, nx, ny, 1);
    if (filter) {
      BandPass bp;
      bp.lowpass_angstrom = opt.lowpass_angstrom;
      bp.highpass_angstrom = opt.highpass_angstrom;
      ApplyBandPass(&f, out.pixel_size, bp);
    }
    out.image = InverseFft(f, opt.threads);
  } else {
    out.image = micrograph;
  }

  double centre = 0, spread = 0;
  if (opt.robust_normalise) RobustMeanStd(out.image, &centre, &spread);
  if (!(spread > 0)) {  // plain statistics (also the fallback when over half the pixels are equal)
    const Stats s = ComputeStats(out.image);
    centre = s.mean;
    spread = s.stddev;
  }
  const double scale = (spread > 0 ? 1.0 / spread : 1.0) * (opt.invert ? -1.0 : 1.0);
  for (auto& v : out.image) v = static_cast<float>((v - centre) * scale);
  if (opt.local_normalise_angstrom > 0) {
    const int h = std::max(2, static_cast<int>(std::lround(0.5 * opt.local_normalise_angstrom / out.pixel_size)));
    LocalNormalise(&out.image, h);
  }
  return out;
}

}  // namespace emkit
