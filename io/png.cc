#include "io/png.h"

#include <png.h>

#include <algorithm>
#include <cstdio>

#include "core/error.h"
#include "core/files.h"

namespace emkit {

std::vector<unsigned char> ToGrey8(const Image& img, double lo_p, double hi_p) {
  std::vector<float> sorted(img.begin(), img.end());
  const std::size_t n = sorted.size();
  auto pct = [&](double p) {
    const std::size_t k = std::min(n - 1, static_cast<std::size_t>(p / 100.0 * (n - 1)));
    std::nth_element(sorted.begin(), sorted.begin() + k, sorted.end());
    return sorted[k];
  };
  const float lo = pct(lo_p), hi = pct(hi_p);
  const float scale = hi > lo ? 255.f / (hi - lo) : 0.f;
  std::vector<unsigned char> out(n);
  for (std::size_t i = 0; i < n; ++i)
    out[i] = static_cast<unsigned char>(std::clamp((img[i] - lo) * scale, 0.f, 255.f));
  return out;
}

void WritePng(const std::string& path, const Image& img, double lo_p, double hi_p) {
  if (img.empty()) throw InvalidInputError(path + ": empty image");
  std::vector<unsigned char> grey = ToGrey8(img, lo_p, hi_p);
  WriteAtomically(path, [&](const std::string& tmp) {
    png_image png{};
    png.version = PNG_IMAGE_VERSION;
    png.width = static_cast<png_uint_32>(img.nx());
    png.height = static_cast<png_uint_32>(img.ny());
    png.format = PNG_FORMAT_GRAY;
    const int ok = png_image_write_to_file(&png, tmp.c_str(), 0, grey.data(), 0, nullptr);
    const std::string why = png.message;
    png_image_free(&png);
    if (!ok) throw IoError(path + ": cannot write PNG: " + why);
  });
}

}  // namespace emkit
