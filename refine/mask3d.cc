#include "refine/mask3d.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"
#include "core/fft.h"
#include "core/parallel.h"
#include "refine/map_filters.h"

namespace emkit {
namespace {

constexpr double kFar = 1e20;

// Felzenszwalb & Huttenlocher's 1D squared distance transform of f (n values) into d.
void Edt1d(const double* f, int n, double* d, int* v, double* z) {
  int k = 0;
  v[0] = 0;
  z[0] = -kFar;
  z[1] = kFar;
  for (int q = 1; q < n; ++q) {
    double s = ((f[q] + double(q) * q) - (f[v[k]] + double(v[k]) * v[k])) / (2.0 * q - 2.0 * v[k]);
    while (s <= z[k]) {
      --k;
      s = ((f[q] + double(q) * q) - (f[v[k]] + double(v[k]) * v[k])) / (2.0 * q - 2.0 * v[k]);
    }
    ++k;
    v[k] = q;
    z[k] = s;
    z[k + 1] = kFar;
  }
  k = 0;
  for (int q = 0; q < n; ++q) {
    while (z[k + 1] < q) ++k;
    d[q] = double(q - v[k]) * (q - v[k]) + f[v[k]];
  }
}

// Transforms every line of `g` along one axis (stride between elements, `lines` starting
// offsets), in place.
void EdtAxis(std::vector<double>* g, int n, std::size_t stride, const std::vector<std::size_t>& starts, int threads) {
  ParallelFor(threads, starts.size(), [&](std::size_t i, int) {
    std::vector<double> f(n), d(n), z(n + 1);
    std::vector<int> v(n);
    double* base = g->data() + starts[i];
    for (int q = 0; q < n; ++q) f[q] = base[q * stride];
    Edt1d(f.data(), n, d.data(), v.data(), z.data());
    for (int q = 0; q < n; ++q) base[q * stride] = std::min(d[q], kFar);
  });
}

}  // namespace

void AutoMaskOptions::Check() const {
  if (!std::isfinite(threshold)) throw InvalidInputError("mask threshold: must be a finite number");
  if (!std::isfinite(extend_px) || std::fabs(extend_px) > 1000)
    throw InvalidInputError("mask extension: must be within +-1000 px (got " + std::to_string(extend_px) + ")");
  if (!(soft_edge_px >= 0) || soft_edge_px > 1000)
    throw InvalidInputError("mask soft edge: must be 0-1000 px (got " + std::to_string(soft_edge_px) + ")");
  if (!(lowpass_A >= 0)) throw InvalidInputError("mask low-pass: must be >= 0 Å");
  if (lowpass_A > 0 && !(pixel_size > 0)) throw InvalidInputError("mask low-pass: needs the pixel size");
}

std::vector<float> SquaredDistanceTransform(const Grid<uint8_t>& inside, int threads) {
  const int nx = inside.nx(), ny = inside.ny(), nz = inside.nz();
  std::vector<double> g(inside.size());
  for (std::size_t i = 0; i < g.size(); ++i) g[i] = inside[i] ? 0.0 : kFar;
  std::vector<std::size_t> starts;
  for (int z = 0; z < nz; ++z)
    for (int y = 0; y < ny; ++y) starts.push_back((std::size_t(z) * ny + y) * nx);
  EdtAxis(&g, nx, 1, starts, threads);
  starts.clear();
  for (int z = 0; z < nz; ++z)
    for (int x = 0; x < nx; ++x) starts.push_back(std::size_t(z) * ny * nx + x);
  EdtAxis(&g, ny, nx, starts, threads);
  if (nz > 1) {
    starts.clear();
    for (int y = 0; y < ny; ++y)
      for (int x = 0; x < nx; ++x) starts.push_back(std::size_t(y) * nx + x);
    EdtAxis(&g, nz, std::size_t(nx) * ny, starts, threads);
  }
  return std::vector<float>(g.begin(), g.end());
}

Volume MakeAutoMask(const Volume& map, const AutoMaskOptions& o) {
  o.Check();
  Volume in = map;
  if (o.lowpass_A > 0) {
    FourierGrid f = Fft(map, o.threads);
    LowPassFilterMap(&f, o.lowpass_A, o.pixel_size);
    in = InverseFft(f, o.threads);
  }
  // A. The binary seed: voxels at or above the threshold.
  Grid<uint8_t> bin(in.nx(), in.ny(), in.nz());
  std::size_t count = 0;
  for (std::size_t i = 0; i < in.size(); ++i) count += bin[i] = in[i] >= o.threshold;
  if (count == 0)
    throw InvalidInputError("mask threshold " + std::to_string(o.threshold) +
                            ": no voxel of the map reaches it (map maximum " +
                            std::to_string(*std::max_element(in.begin(), in.end())) + ")");
  // B. Extend (voxels closer than extend_px to the seed join it) or shrink (voxels closer than
  // -extend_px to the outside leave it); RELION compares squared distances strictly.
  const double e2 = o.extend_px * o.extend_px;
  if (o.extend_px > 0) {
    const std::vector<float> d2 = SquaredDistanceTransform(bin, o.threads);
    for (std::size_t i = 0; i < bin.size(); ++i)
      if (d2[i] < e2) bin[i] = 1;
  } else if (o.extend_px < 0) {
    Grid<uint8_t> outside(bin.nx(), bin.ny(), bin.nz());
    for (std::size_t i = 0; i < bin.size(); ++i) outside[i] = !bin[i];
    const std::vector<float> d2 = SquaredDistanceTransform(outside, o.threads);
    for (std::size_t i = 0; i < bin.size(); ++i)
      if (d2[i] < e2) bin[i] = 0;
  }
  // C. Raised-cosine edge on the voxels within soft_edge_px of the extended mask.
  Volume mask(in.nx(), in.ny(), in.nz(), 0.0f);
  for (std::size_t i = 0; i < bin.size(); ++i) mask[i] = bin[i] ? 1.0f : 0.0f;
  if (o.soft_edge_px > 0) {
    const std::vector<float> d2 = SquaredDistanceTransform(bin, o.threads);
    const double w2 = o.soft_edge_px * o.soft_edge_px;
    for (std::size_t i = 0; i < bin.size(); ++i)
      if (!bin[i] && d2[i] < w2)
        mask[i] = float(0.5 + 0.5 * std::cos(M_PI * std::sqrt(double(d2[i])) / o.soft_edge_px));
  }
  return mask;
}

Volume SoftSphereMask(int box, double radius_px, double edge_px) {
  Volume m(box, box, box, 0.0f);
  const int c = box / 2;
  for (int z = 0; z < box; ++z)
    for (int y = 0; y < box; ++y)
      for (int x = 0; x < box; ++x) {
        const double r = std::sqrt(double(x - c) * (x - c) + double(y - c) * (y - c) + double(z - c) * (z - c));
        double v = 0;
        if (r <= radius_px)
          v = 1;
        else if (edge_px > 0 && r < radius_px + edge_px)
          v = 0.5 + 0.5 * std::cos(M_PI * (r - radius_px) / edge_px);
        m(x, y, z) = float(v);
      }
  return m;
}

MaskStats ComputeMaskStats(const Volume& mask) {
  MaskStats s;
  if (mask.empty()) return s;
  std::size_t above = 0;
  s.min = s.max = mask[0];
  for (float v : mask) {
    above += v > 0.5f;
    s.sum += v;
    s.min = std::min<double>(s.min, v);
    s.max = std::max<double>(s.max, v);
  }
  s.fraction_above_half = double(above) / double(mask.size());
  return s;
}

}  // namespace emkit
