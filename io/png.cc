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

void WriteMapPicture(const std::string& path, const Image& v) {
  const int nx = v.nx(), ny = v.ny(), nz = v.nz();
  if (nx < 1 || ny < 1 || nz < 2) throw InvalidInputError(path + ": a map picture needs a volume");
  const int side = std::max({nx, ny, nz}), zoom = std::max(1, (160 + side - 1) / side), gap = 4;
  const int cell = side * zoom;
  Image out(3 * cell + 4 * gap, 2 * cell + 3 * gap, 1, 0.f);
  // Tile t of row r: sections (r = 0) or projections (r = 1) along z, y, x.
  for (int r = 0; r < 2; ++r)
    for (int t = 0; t < 3; ++t) {
      const int w = t == 2 ? ny : nx, h = t == 0 ? ny : nz;  // tile axes: (x,y), (x,z), (y,z)
      Image tile(w, h, 1, 0.f);
      for (int b = 0; b < h; ++b)
        for (int a = 0; a < w; ++a) {
          double val = 0;
          const int depth = t == 0 ? nz : (t == 1 ? ny : nx);
          for (int d = 0; d < depth; ++d) {
            if (r == 0 && d != depth / 2) continue;
            const int x = t == 2 ? d : a, y = t == 0 ? b : (t == 1 ? d : a), z = t == 0 ? d : b;
            val += v(x, y, z);
          }
          tile(a, b) = static_cast<float>(val);
        }
      const Stats s = ComputeStats(tile);
      const double sd = s.stddev > 0 ? s.stddev : 1;
      const int ox = gap + t * (cell + gap), oy = gap + r * (cell + gap);
      for (int b = 0; b < h * zoom; ++b)
        for (int a = 0; a < w * zoom; ++a)
          out(ox + a, oy + b) = static_cast<float>((tile(a / zoom, b / zoom) - s.mean) / sd);
    }
  WritePng(path, out, 0.5, 99.5);
}

}  // namespace emkit
