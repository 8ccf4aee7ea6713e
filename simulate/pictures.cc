#include "simulate/pictures.h"

#include <algorithm>
#include <cmath>

#include "core/filters.h"
#include "io/png.h"

namespace emkit {
namespace {

void DrawCircle(Image* img, double cx, double cy, double r, float value) {
  const int steps = std::max(16, static_cast<int>(2 * M_PI * r));
  for (int t = 0; t < steps; ++t) {
    const double a = 2 * M_PI * t / steps;
    for (double w = -0.5; w <= 0.5; w += 0.5) {
      const int x = static_cast<int>(std::lround(cx + (r + w) * std::cos(a)));
      const int y = static_cast<int>(std::lround(cy + (r + w) * std::sin(a)));
      if (x >= 0 && y >= 0 && x < img->nx() && y < img->ny()) (*img)(x, y) = value;
    }
  }
}

}  // namespace

void WriteTruthPicture(const std::string& path, const Image& mic, const std::vector<PlacedObject>& objects,
                       int max_size) {
  const double bin = std::max(1.0, std::max(mic.nx(), mic.ny()) / double(max_size));
  Image small =
      bin > 1 ? FourierResize(mic, static_cast<int>(mic.nx() / bin) / 2 * 2, static_cast<int>(mic.ny() / bin) / 2 * 2)
              : mic;
  const double sx = double(small.nx()) / mic.nx(), sy = double(small.ny()) / mic.ny();
  small = GaussianBlur(small, 1.5);
  std::vector<float> sorted(small.begin(), small.end());
  std::sort(sorted.begin(), sorted.end());
  const float lo = sorted[sorted.size() / 200], hi = sorted[sorted.size() - 1 - sorted.size() / 200];
  for (const auto& o : objects) {
    if (o.kind == ObjectKind::kCarbonEdge) continue;
    DrawCircle(&small, o.x * sx, o.y * sy, o.radius * sx,
               o.kind == ObjectKind::kTarget ? hi + (hi - lo) : lo - (hi - lo));
  }
  WritePng(path, small, 0.5, 99.5);
}

void WriteMontage(const std::string& path, const std::vector<Image>& tiles, int per_row) {
  if (tiles.empty()) return;
  const int b = tiles[0].nx(), gap = 2;
  const int cols = std::min<int>(per_row, static_cast<int>(tiles.size()));
  const int rows = (static_cast<int>(tiles.size()) + per_row - 1) / per_row;
  Image m(cols * (b + gap) - gap, rows * (b + gap) - gap, 1, 0.0f);
  for (std::size_t i = 0; i < tiles.size(); ++i) {
    const Stats s = ComputeStats(tiles[i]);
    const int ox = static_cast<int>(i % per_row) * (b + gap), oy = static_cast<int>(i / per_row) * (b + gap);
    for (int y = 0; y < b; ++y)
      for (int x = 0; x < b; ++x)
        m(ox + x, oy + y) = static_cast<float>((tiles[i](x, y) - s.mean) / (s.stddev > 0 ? s.stddev : 1));
  }
  WritePng(path, m, 0.5, 99.5);
}

}  // namespace emkit
