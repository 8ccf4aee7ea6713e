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
  return out;
}

}  // namespace emkit
