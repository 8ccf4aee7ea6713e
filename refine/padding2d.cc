#include "refine/padding2d.h"

#include <cmath>

#include "core/fft.h"
#include "core/projector.h"

namespace emkit {
namespace {

// Real-space attenuation of bilinear interpolation on a grid of size m (separable sinc^2).
double Sinc2(double x, int m) { return LinearInterpolationSinc2(x, m); }

}  // namespace

FourierGrid PaddedTransform(const Image& ref, int pad) {
  const int n = ref.nx(), m = n * pad, off = (m - n) / 2;
  Image big(m, m);
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) {
      const double g = Sinc2(x - n / 2, m) * Sinc2(y - n / 2, m);
      big(x + off, y + off) = static_cast<float>(ref(x, y) / (pad > 1 ? g : 1.0));
    }
  FourierGrid f = CentredFft(big);
  const float scale = static_cast<float>(pad * pad);
  for (std::size_t i = 0; i < f.size(); ++i) f.data()[i] *= scale;
  return f;
}

Image CropPadded(const Image& big, int n, int pad) {
  const int m = n * pad, off = (m - n) / 2;
  Image out(n, n);
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) {
      const double g = pad > 1 ? Sinc2(x - n / 2, m) * Sinc2(y - n / 2, m) : 1.0;
      out(x, y) = static_cast<float>(big(x + off, y + off) / (pad * pad) / g);
    }
  return out;
}

}  // namespace emkit
