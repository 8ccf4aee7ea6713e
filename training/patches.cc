#include "training/patches.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/random.h"

namespace emkit {

std::vector<std::pair<double, double>> BinnedCentres(const AnnotatedMicrograph& m) {
  std::vector<std::pair<double, double>> c;
  for (const auto& p : m.coords) c.emplace_back(p.x / m.bin_factor, p.y / m.bin_factor);
  return c;
}

int DiskArea(double radius) {
  const int r = static_cast<int>(std::ceil(radius));
  int n = 0;
  for (int y = -r; y <= r; ++y)
    for (int x = -r; x <= r; ++x) n += x * x + y * y <= radius * radius;
  return n;
}

Image DiskLabels(int nx, int ny, const std::vector<std::pair<double, double>>& centres, double radius) {
  Image l(nx, ny);
  const int r = static_cast<int>(std::ceil(radius));
  for (const auto& [cx, cy] : centres) {
    const int ix = static_cast<int>(std::lround(cx)), iy = static_cast<int>(std::lround(cy));
    for (int y = iy - r; y <= iy + r; ++y)
      for (int x = ix - r; x <= ix + r; ++x)
        if (x >= 0 && y >= 0 && x < nx && y < ny && (x - ix) * (x - ix) + (y - iy) * (y - iy) <= radius * radius)
          l(x, y) = 1;
  }
  return l;
}

namespace {

// Source pixel of output pixel (x, y) of an n x n patch after k quarter turns and an optional flip.
std::pair<int, int> Transform(int x, int y, int n, int k, bool flip) {
  if (flip) x = n - 1 - x;
  for (int i = 0; i < k; ++i) {
    const int t = x;
    x = n - 1 - y;
    y = t;
  }
  return {x, y};
}

// Reflection about the edge pixels (as torch's reflection padding), clamped for tiny images.
int Mirror(int i, int n) {
  if (n == 1) return 0;
  if (i < 0) i = -i;
  if (i >= n) i = 2 * (n - 1) - i;
  return std::clamp(i, 0, n - 1);
}

}  // namespace

CnnBatch SampleBatch(const std::vector<AnnotatedMicrograph>& set, const std::vector<Image>& labels,
                     const PatchOptions& opt, uint64_t seed, uint64_t step,
                     const std::vector<std::vector<std::pair<double, double>>>* hard_negatives) {
  EMKIT_CHECK(!set.empty() && set.size() == labels.size(), "empty training set");
  EMKIT_CHECK(opt.patch > 0, "patch size must be set (> 0)");
  Rng rng(seed, StreamId("cnn-batch", step));
  const int n = opt.patch;
  CnnBatch b;
  b.n = opt.batch;
  b.h = b.w = n;
  const std::size_t plane = std::size_t(n) * n;
  b.images.assign(plane * b.n, 0.0f);
  b.labels.assign(plane * b.n, 0.0f);
  b.penalty_mask.assign(plane * b.n, 0.0f);
  std::vector<int> with_particles;
  for (std::size_t i = 0; i < set.size(); ++i)
    if (!set[i].coords.empty()) with_particles.push_back(static_cast<int>(i));
  const int n_centred = with_particles.empty() ? 0 : static_cast<int>(std::lround(opt.positive_fraction * b.n));
  std::vector<int> with_negatives;
  if (hard_negatives) {
    EMKIT_CHECK(hard_negatives->size() == set.size(), "one hard-negative list per micrograph");
    for (std::size_t i = 0; i < set.size(); ++i)
      if (!(*hard_negatives)[i].empty()) with_negatives.push_back(static_cast<int>(i));
  }
  const int n_hard = with_negatives.empty()
                         ? 0
                         : std::min(b.n - n_centred, static_cast<int>(std::lround(opt.hard_negative_fraction * b.n)));
  for (int p = 0; p < b.n; ++p) {
    const bool centred = p < n_centred;
    int mi;
    double cx, cy;
    if (p >= n_centred && p < n_centred + n_hard) {
      mi = with_negatives[rng.UniformInt(0, static_cast<int>(with_negatives.size()) - 1)];
      const auto& list = (*hard_negatives)[mi];
      const auto& c = list[rng.UniformInt(0, static_cast<int>(list.size()) - 1)];
      // Jitter within a quarter of the loss region, so the negative is always inside it.
      const double j = std::max(1, n - 2 * opt.margin) / 4.0;
      cx = c.first + rng.Uniform(-j, j);
      cy = c.second + rng.Uniform(-j, j);
    } else if (centred) {
      mi = with_particles[rng.UniformInt(0, static_cast<int>(with_particles.size()) - 1)];
      const auto& c = set[mi].coords[rng.UniformInt(0, static_cast<int>(set[mi].coords.size()) - 1)];
      // Jitter by up to a quarter patch, but never so far that the particle leaves the loss region
      // (with resnet10's margin a quarter of a 96 px patch is 24 px, the loss region only +-16):
      // the centre stays within 1 px of it (the patch origin is floored, the label centre
      // rounded), so the label disk always overlaps it.
      const double j = std::max(0.0, std::min(n / 4.0, (n - 2 * opt.margin) / 2.0 - 1));
      cx = c.x / set[mi].bin_factor + rng.Uniform(-j, j);
      cy = c.y / set[mi].bin_factor + rng.Uniform(-j, j);
    } else {
      mi = rng.UniformInt(0, static_cast<int>(set.size()) - 1);
      cx = rng.Uniform(0, set[mi].image.nx());
      cy = rng.Uniform(0, set[mi].image.ny());
    }
    const int k = opt.augment ? rng.UniformInt(0, 3) : 0;
    const bool flip = opt.augment && rng.Uniform() < 0.5;
    const Image& img = set[mi].image;
    const Image& lab = labels[mi];
    const int x0 = static_cast<int>(std::floor(cx)) - n / 2, y0 = static_cast<int>(std::floor(cy)) - n / 2;
    float* pi = b.images.data() + plane * p;
    float* pl = b.labels.data() + plane * p;
    float* pm = b.penalty_mask.data() + plane * p;
    for (int y = 0; y < n; ++y)
      for (int x = 0; x < n; ++x) {
        const auto [sx, sy] = Transform(x, y, n, k, flip);
        const int ix = x0 + sx, iy = y0 + sy;
        const bool inside = ix >= 0 && iy >= 0 && ix < img.nx() && iy < img.ny();
        // Outside the micrograph: mirrored (as inference pads), excluded from the loss.
        pi[y * n + x] = img(Mirror(ix, img.nx()), Mirror(iy, img.ny()));
        pl[y * n + x] = inside ? lab(ix, iy) : -1.0f;
        pm[y * n + x] = inside && !centred ? 1.0f : 0.0f;
      }
  }
  return b;
}

}  // namespace emkit
