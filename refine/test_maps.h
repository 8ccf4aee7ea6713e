// Small synthetic maps and a map correlation for the 3D tests (header only, tests only).
#pragma once

#include <cmath>
#include <vector>

#include "core/image.h"

namespace emkit::testing {

struct Blob {
  double x, y, z, sigma, amplitude;  // centre relative to n/2 (px), width (px), height
};

// Sum of Gaussians centred at n/2 + (x, y, z).
inline Volume Blobs(int n, const std::vector<Blob>& blobs) {
  Volume v(n, n, n);
  const int c = n / 2;
  for (int z = 0; z < n; ++z)
    for (int y = 0; y < n; ++y)
      for (int x = 0; x < n; ++x) {
        double s = 0;
        for (const Blob& b : blobs) {
          const double dx = x - c - b.x, dy = y - c - b.y, dz = z - c - b.z;
          s += b.amplitude * std::exp(-(dx * dx + dy * dy + dz * dz) / (2 * b.sigma * b.sigma));
        }
        v(x, y, z) = static_cast<float>(s);
      }
  return v;
}

// An asymmetric, chiral arrangement of blobs.
inline std::vector<Blob> ChiralBlobs() {
  return {{0, 0, 0, 1.5, 1}, {6, 0, 0, 1.2, 1}, {6, 5, 1, 1.2, 1}, {6, 5, 7, 1.2, 1}, {-4, -3, -2, 1.5, 0.7}};
}

// Pearson correlation of two maps inside a sphere of radius r around the centre.
inline double CorrelationInSphere(const Volume& a, const Volume& b, double r) {
  const int n = a.nx(), c = n / 2;
  double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0, cnt = 0;
  for (int z = 0; z < n; ++z)
    for (int y = 0; y < n; ++y)
      for (int x = 0; x < n; ++x) {
        if ((x - c) * (x - c) + (y - c) * (y - c) + (z - c) * (z - c) > r * r) continue;
        const double va = a(x, y, z), vb = b(x, y, z);
        sa += va, sb += vb, saa += va * va, sbb += vb * vb, sab += va * vb, cnt += 1;
      }
  const double cov = sab / cnt - sa / cnt * sb / cnt;
  return cov / std::sqrt((saa / cnt - sa * sa / cnt / cnt) * (sbb / cnt - sb * sb / cnt / cnt));
}

}  // namespace emkit::testing
