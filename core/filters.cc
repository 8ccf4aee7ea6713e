#include "core/filters.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/fft.h"

namespace emkit {

FourierGrid FourierResize(const FourierGrid& in, int new_nx, int new_ny, int new_nz) {
  FourierGrid out(new_nx, new_ny, new_nz);
  const int onx = in.logical_nx(), ony = in.logical_ny(), onz = in.logical_nz();
  // Frequencies kept: those representable in both grids.
  const int kx_max = std::min(onx, new_nx) / 2;
  const int ky_lim = std::min(ony, new_ny), kz_lim = std::min(onz, new_nz);
  for (int z = 0; z < kz_lim; ++z) {
    const int kz = FourierGrid::Freq(z, kz_lim);
    for (int y = 0; y < ky_lim; ++y) {
      const int ky = FourierGrid::Freq(y, ky_lim);
      for (int kx = 0; kx <= kx_max; ++kx) out.At(kx, ky, kz) = in.At(kx, ky, kz);
    }
  }
  return out;
}

Image FourierResize(const Image& in, int new_nx, int new_ny, int new_nz, int threads) {
  if (new_nx == in.nx() && new_ny == in.ny() && new_nz == in.nz()) return in;
  if (new_nx <= 0 || new_ny <= 0 || new_nz <= 0) throw InvalidInputError("Fourier resize to a non-positive size");
  return InverseFft(FourierResize(Fft(in, threads), new_nx, new_ny, new_nz), threads);
}

static double RaisedCosine(double x) {  // 1 at x <= 0, 0 at x >= 1
  if (x <= 0) return 1;
  if (x >= 1) return 0;
  return 0.5 * (1 + std::cos(M_PI * x));
}

void ApplyBandPass(FourierGrid* g, double pixel_size, const BandPass& bp) {
  const double n = g->logical_nx();
  const double w = std::max(bp.edge_width_px, 1e-6);
  // Work in Fourier pixels: shell = f * n * pixel_size.
  const double lp = bp.lowpass_angstrom > 0 ? n * pixel_size / bp.lowpass_angstrom : -1;
  const double hp = bp.highpass_angstrom > 0 ? n * pixel_size / bp.highpass_angstrom : -1;
  ApplyRadial(g, pixel_size, [&](double f) {
    const double shell = f * n * pixel_size;
    double v = 1;
    if (lp > 0) v *= RaisedCosine((shell - lp) / w + 0.5);
    if (hp > 0) v *= RaisedCosine((hp - shell) / w + 0.5);
    return v;
  });
}

Image BandPassFilter(const Image& in, double pixel_size, const BandPass& bp, int threads) {
  FourierGrid f = Fft(in, threads);
  ApplyBandPass(&f, pixel_size, bp);
  return InverseFft(f, threads);
}

Image GaussianBlur(const Image& in, double sigma_px, int threads) {
  if (sigma_px <= 0) return in;
  FourierGrid f = Fft(in, threads);
  // Frequencies in cycles per pixel: pixel_size = 1.
  const double c = 2 * M_PI * M_PI * sigma_px * sigma_px;
  ApplyRadial(&f, 1.0, [&](double k) { return std::exp(-c * k * k); });
  return InverseFft(f, threads);
}

double SoftMaskWeight(double r, double radius, double edge_width) {
  if (r <= radius) return 1;
  if (edge_width <= 0 || r >= radius + edge_width) return 0;
  return 0.5 * (1 + std::cos(M_PI * (r - radius) / edge_width));
}

void ApplySoftMask(Image* img, const SoftMask& m) {
  const int nx = img->nx(), ny = img->ny(), nz = img->nz();
  const bool vol = nz > 1;
  auto radius_at = [&](int x, int y, int z) {
    const double dx = x - nx / 2, dy = y - ny / 2, dz = vol ? z - nz / 2 : 0;
    return std::sqrt(dx * dx + dy * dy + dz * dz);
  };
  float bg = m.background;
  if (m.fill_with_outside_mean) {
    double sum = 0, wsum = 0;
    for (int z = 0; z < nz; ++z)
      for (int y = 0; y < ny; ++y)
        for (int x = 0; x < nx; ++x) {
          const double w = 1 - SoftMaskWeight(radius_at(x, y, z), m.radius_px, m.edge_width_px);
          sum += w * (*img)(x, y, z);
          wsum += w;
        }
    bg = wsum > 0 ? static_cast<float>(sum / wsum) : 0.f;
  }
  for (int z = 0; z < nz; ++z)
    for (int y = 0; y < ny; ++y)
      for (int x = 0; x < nx; ++x) {
        const double w = SoftMaskWeight(radius_at(x, y, z), m.radius_px, m.edge_width_px);
        float& v = (*img)(x, y, z);
        v = static_cast<float>(w * v + (1 - w) * bg);
      }
}

void Normalise(Image* img, double outside_radius) {
  double sum = 0, sum2 = 0;
  std::size_t n = 0;
  const int nx = img->nx(), ny = img->ny(), nz = img->nz();
  const double r2 = outside_radius * outside_radius;
  for (int z = 0; z < nz; ++z)
    for (int y = 0; y < ny; ++y)
      for (int x = 0; x < nx; ++x) {
        if (outside_radius > 0) {
          const double dx = x - nx / 2, dy = y - ny / 2, dz = nz > 1 ? z - nz / 2 : 0;
          if (dx * dx + dy * dy + dz * dz <= r2) continue;
        }
        const double v = (*img)(x, y, z);
        sum += v;
        sum2 += v * v;
        ++n;
      }
  if (n == 0) throw InvalidInputError("normalisation: no pixels outside radius " + std::to_string(outside_radius));
  const double mean = sum / n;
  const double sd = std::sqrt(std::max(0.0, sum2 / n - mean * mean));
  const double inv = sd > 0 ? 1.0 / sd : 1.0;
  for (auto& v : *img) v = static_cast<float>((v - mean) * inv);
}

namespace {
template <class F>
void ForEachShell(const FourierGrid& g, F&& f) {
  const int nx = g.logical_nx(), ny = g.logical_ny(), nz = g.logical_nz();
  for (int z = 0; z < nz; ++z) {
    const int kz = nz > 1 ? FourierGrid::Freq(z, nz) : 0;
    for (int y = 0; y < ny; ++y) {
      const int ky = FourierGrid::Freq(y, ny);
      for (int x = 0; x < g.half_nx(); ++x) {
        const int shell = static_cast<int>(std::lround(std::sqrt(double(x * x + ky * ky + kz * kz))));
        if (shell > nx / 2) continue;
        // Columns other than 0 (and Nyquist for even sizes) stand for two coefficients.
        const double mult = (x == 0 || (nx % 2 == 0 && x == nx / 2)) ? 1.0 : 2.0;
        f(shell, x, y, z, mult);
      }
    }
  }
}
}  // namespace

std::vector<double> RadialPowerSpectrum(const FourierGrid& g) {
  const int n = g.logical_nx();
  std::vector<double> sum(n / 2 + 1, 0.0), count(n / 2 + 1, 0.0);
  ForEachShell(g, [&](int s, int x, int y, int z, double m) {
    sum[s] += m * std::norm(g.grid()(x, y, z));
    count[s] += m;
  });
  for (std::size_t i = 0; i < sum.size(); ++i) sum[i] = count[i] > 0 ? sum[i] / count[i] : 0;
  return sum;
}

std::vector<double> FourierShellCorrelation(const FourierGrid& a, const FourierGrid& b) {
  if (!a.grid().SameShape(b.grid())) throw InvalidInputError("FSC of grids with different shapes");
  const int n = a.logical_nx();
  std::vector<double> num(n / 2 + 1, 0), da(n / 2 + 1, 0), db(n / 2 + 1, 0);
  ForEachShell(a, [&](int s, int x, int y, int z, double m) {
    const Complex va = a.grid()(x, y, z), vb = b.grid()(x, y, z);
    num[s] += m * (va.real() * vb.real() + va.imag() * vb.imag());
    da[s] += m * std::norm(va);
    db[s] += m * std::norm(vb);
  });
  std::vector<double> fsc(n / 2 + 1, 0);
  for (std::size_t i = 0; i < fsc.size(); ++i)
    fsc[i] = (da[i] > 0 && db[i] > 0) ? num[i] / std::sqrt(da[i] * db[i]) : 0;
  return fsc;
}

double Correlation(const Image& a, const Image& b) {
  if (!a.SameShape(b)) throw InvalidInputError("correlation of images with different shapes");
  double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  const std::size_t n = a.size();
  for (std::size_t i = 0; i < n; ++i) {
    sa += a[i];
    sb += b[i];
    saa += double(a[i]) * a[i];
    sbb += double(b[i]) * b[i];
    sab += double(a[i]) * b[i];
  }
  const double cov = sab / n - sa / n * sb / n;
  const double va = saa / n - sa / n * sa / n, vb = sbb / n - sb / n * sb / n;
  return (va > 0 && vb > 0) ? cov / std::sqrt(va * vb) : 0;
}

}  // namespace emkit
