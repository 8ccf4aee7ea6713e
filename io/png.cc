#include "io/png.h"

#include <png.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <map>

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

namespace {

void WriteGrey8(const std::string& path, int w, int h, const std::vector<unsigned char>& grey) {
  WriteAtomically(path, [&](const std::string& tmp) {
    png_image png{};
    png.version = PNG_IMAGE_VERSION;
    png.width = static_cast<png_uint_32>(w);
    png.height = static_cast<png_uint_32>(h);
    png.format = PNG_FORMAT_GRAY;
    const int ok = png_image_write_to_file(&png, tmp.c_str(), 0, grey.data(), 0, nullptr);
    const std::string why = png.message;
    png_image_free(&png);
    if (!ok) throw IoError(path + ": cannot write PNG: " + why);
  });
}

// 5 x 7 glyphs, one row of 5 bits per byte (top row first, bit 4 = left column).
const unsigned char* Glyph(char c) {
  static const std::map<char, std::array<unsigned char, 7>> kFont = {
      {'0', {14, 17, 19, 21, 25, 17, 14}}, {'1', {4, 12, 4, 4, 4, 4, 14}},      {'2', {14, 17, 1, 2, 4, 8, 31}},
      {'3', {31, 2, 4, 2, 1, 17, 14}},     {'4', {2, 6, 10, 18, 31, 2, 2}},     {'5', {31, 16, 30, 1, 1, 17, 14}},
      {'6', {6, 8, 16, 30, 17, 17, 14}},   {'7', {31, 1, 2, 4, 8, 8, 8}},       {'8', {14, 17, 17, 14, 17, 17, 14}},
      {'9', {14, 17, 17, 15, 1, 2, 12}},   {'.', {0, 0, 0, 0, 0, 12, 12}},      {',', {0, 0, 0, 0, 12, 4, 8}},
      {'%', {24, 25, 2, 4, 8, 19, 3}},     {'#', {10, 10, 31, 10, 31, 10, 10}}, {'-', {0, 0, 0, 31, 0, 0, 0}},
      {'+', {0, 4, 4, 31, 4, 4, 0}},       {'/', {0, 1, 2, 4, 8, 16, 0}},       {':', {0, 12, 12, 0, 12, 12, 0}},
      {'(', {2, 4, 8, 8, 8, 4, 2}},        {')', {8, 4, 2, 2, 2, 4, 8}},        {'A', {14, 17, 17, 31, 17, 17, 17}},
      {'B', {30, 17, 17, 30, 17, 17, 30}}, {'C', {14, 17, 16, 16, 16, 17, 14}}, {'D', {28, 18, 17, 17, 17, 18, 28}},
      {'E', {31, 16, 16, 30, 16, 16, 31}}, {'F', {31, 16, 16, 30, 16, 16, 16}}, {'G', {14, 17, 16, 23, 17, 17, 15}},
      {'H', {17, 17, 17, 31, 17, 17, 17}}, {'I', {14, 4, 4, 4, 4, 4, 14}},      {'J', {7, 2, 2, 2, 2, 18, 12}},
      {'K', {17, 18, 20, 24, 20, 18, 17}}, {'L', {16, 16, 16, 16, 16, 16, 31}}, {'M', {17, 27, 21, 21, 17, 17, 17}},
      {'N', {17, 17, 25, 21, 19, 17, 17}}, {'O', {14, 17, 17, 17, 17, 17, 14}}, {'P', {30, 17, 17, 30, 16, 16, 16}},
      {'Q', {14, 17, 17, 17, 21, 18, 13}}, {'R', {30, 17, 17, 30, 20, 18, 17}}, {'S', {15, 16, 16, 14, 1, 1, 30}},
      {'T', {31, 4, 4, 4, 4, 4, 4}},       {'U', {17, 17, 17, 17, 17, 17, 14}}, {'V', {17, 17, 17, 17, 17, 10, 4}},
      {'W', {17, 17, 17, 21, 21, 21, 10}}, {'X', {17, 17, 10, 4, 10, 17, 17}},  {'Y', {17, 17, 10, 4, 4, 4, 4}},
      {'Z', {31, 1, 2, 4, 8, 16, 31}}};
  const auto it = kFont.find(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return it == kFont.end() ? nullptr : it->second.data();
}

}  // namespace

void WriteLabelledMontage(const std::string& path, const std::vector<Image>& tiles,
                          const std::vector<std::string>& captions, int per_row, int min_tile) {
  if (tiles.empty()) throw InvalidInputError(path + ": no tiles for a montage");
  const int scale = 2, advance = 6 * scale, line_h = 9 * scale, gap = 4;
  int side = 0, lines = 1, longest = 0;
  for (const auto& t : tiles) side = std::max({side, t.nx(), t.ny()});
  for (const auto& c : captions) {
    int n = 1, len = 0;
    for (char ch : c) {
      if (ch == '\n') {
        ++n;
        len = 0;
      } else {
        longest = std::max(longest, ++len);
      }
    }
    lines = std::max(lines, n);
  }
  const int zoom = std::max(1, (std::max(min_tile, longest * advance + 4) + side - 1) / side);
  const int cell = side * zoom, band = captions.empty() ? 0 : lines * line_h + 4;
  const int cols = std::max(1, std::min(per_row, static_cast<int>(tiles.size())));
  const int rows = (static_cast<int>(tiles.size()) + cols - 1) / cols;
  const int w = cols * (cell + gap) + gap, h = rows * (cell + band + gap) + gap;
  std::vector<unsigned char> grey(static_cast<std::size_t>(w) * h, 0);
  auto put = [&](int x, int y, unsigned char v) {
    if (x >= 0 && y >= 0 && x < w && y < h) grey[static_cast<std::size_t>(y) * w + x] = v;
  };
  for (std::size_t i = 0; i < tiles.size(); ++i) {
    const Image& t = tiles[i];
    const Stats s = ComputeStats(t);
    const double sd = s.stddev > 0 ? s.stddev : 1;
    const int ox = gap + static_cast<int>(i % cols) * (cell + gap),
              oy = gap + static_cast<int>(i / cols) * (cell + band + gap);
    for (int y = 0; y < t.ny() * zoom; ++y)
      for (int x = 0; x < t.nx() * zoom; ++x) {
        const double v = (t(x / zoom, y / zoom) - s.mean) / sd;
        put(ox + x, oy + y, static_cast<unsigned char>(std::clamp(127.5 + v * 127.5 / 3, 0.0, 255.0)));
      }
    if (i >= captions.size()) continue;
    int cx = ox + 2, cy = oy + cell + 3;
    for (char ch : captions[i]) {
      if (ch == '\n') {
        cx = ox + 2;
        cy += line_h;
        continue;
      }
      if (const unsigned char* g = Glyph(ch))
        for (int r = 0; r < 7; ++r)
          for (int c = 0; c < 5; ++c)
            if (g[r] & (16 >> c))
              for (int dy = 0; dy < scale; ++dy)
                for (int dx = 0; dx < scale; ++dx) put(cx + c * scale + dx, cy + r * scale + dy, 255);
      cx += advance;
    }
  }
  WriteGrey8(path, w, h, grey);
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
