#include "picker/local_stats.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/fft.h"

namespace emkit {

int DiskPixelCount(double radius) {
  const int r = static_cast<int>(std::floor(radius));
  int n = 0;
  for (int dy = -r; dy <= r; ++dy)
    for (int dx = -r; dx <= r; ++dx)
      if (dx * dx + dy * dy <= radius * radius) ++n;
  return n;
}

FourierGrid DiskMeanKernel(int nx, int ny, double radius, int threads) {
  if (!(radius >= 0)) throw InvalidInputError("local statistics: radius must be >= 0");
  const int r = static_cast<int>(std::floor(radius));
  if (2 * r + 1 > nx || 2 * r + 1 > ny)
    throw InvalidInputError("local statistics: disk of radius " + std::to_string(radius) +
                            " px does not fit an image of " + std::to_string(nx) + "x" + std::to_string(ny));
  Image k(nx, ny);
  const float w = 1.0f / static_cast<float>(DiskPixelCount(radius));
  for (int dy = -r; dy <= r; ++dy)
    for (int dx = -r; dx <= r; ++dx)
      if (dx * dx + dy * dy <= radius * radius) k((dx + nx) % nx, (dy + ny) % ny) = w;
  FourierGrid s = Fft(k, threads);
  // Fft divides by N; a convolution through InverseFft(A * B) needs one factor N back.
  const float n = static_cast<float>(static_cast<double>(nx) * ny);
  for (auto& v : s.grid()) v *= n;
  return s;
}

void LocalMeanStd(const Image& img, double radius, Image* mean, Image* stddev, int threads) {
  const FourierGrid kernel = DiskMeanKernel(img.nx(), img.ny(), radius, threads);
  Image sq(img.nx(), img.ny());
  for (std::size_t i = 0; i < img.size(); ++i) sq[i] = img[i] * img[i];
  FourierGrid f = Fft(img, threads), f2 = Fft(sq, threads);
  for (std::size_t i = 0; i < f.size(); ++i) {
    f.data()[i] *= kernel.data()[i];
    f2.data()[i] *= kernel.data()[i];
  }
  InverseFft(f, mean, threads);
  Image m2 = InverseFft(f2, threads);
  stddev->Resize(img.nx(), img.ny());
  for (std::size_t i = 0; i < img.size(); ++i) {
    const double var = double(m2[i]) - double((*mean)[i]) * (*mean)[i];
    (*stddev)[i] = static_cast<float>(std::sqrt(std::max(0.0, var)));
  }
}

namespace {
// Index into [0, n) of position i of the mirrored extension (period 2n).
int MirrorIndex(int i, int n) {
  int m = i % (2 * n);
  if (m < 0) m += 2 * n;
  return m < n ? m : 2 * n - 1 - m;
}
}  // namespace

Image MirrorPad(const Image& img, int left, int top, int nx_out, int ny_out) {
  if (img.empty() || img.nz() != 1) throw InvalidInputError("mirror padding: image must be a non-empty 2D image");
  if (left < 0 || top < 0 || nx_out < left + img.nx() || ny_out < top + img.ny())
    throw InvalidInputError("mirror padding: the padded size must hold the image at its offset");
  const int nx = img.nx(), ny = img.ny();
  std::vector<int> xs(nx_out);
  for (int x = 0; x < nx_out; ++x) xs[x] = MirrorIndex(x - left, nx);
  Image out(nx_out, ny_out);
  for (int y = 0; y < ny_out; ++y) {
    const float* src = &img(0, MirrorIndex(y - top, ny));
    float* dst = &out(0, y);
    for (int x = 0; x < nx_out; ++x) dst[x] = src[xs[x]];
  }
  return out;
}

Image Crop(const Image& img, int x0, int y0, int nx, int ny) {
  if (x0 < 0 || y0 < 0 || nx < 0 || ny < 0 || x0 + nx > img.nx() || y0 + ny > img.ny())
    throw InvalidInputError("crop: window outside the image");
  Image out(nx, ny);
  for (int y = 0; y < ny; ++y) std::copy_n(&img(x0, y0 + y), nx, &out(0, y));
  return out;
}

}  // namespace emkit
