#include "refine/map_filters.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/fft.h"
#include "core/random.h"
#include "io/star.h"

namespace emkit {
namespace {

double Radius(int kx, int ky, int kz) { return std::sqrt(double(kx) * kx + double(ky) * ky + double(kz) * kz); }
int Shell(int kx, int ky, int kz) { return static_cast<int>(std::lround(Radius(kx, ky, kz))); }

}  // namespace

void LowPassFilterMap(FourierGrid* f, double resolution_A, double pixel_size, int edge_width) {
  const int n = f->logical_nx();
  const int ires = static_cast<int>(std::lround(n * pixel_size / resolution_A)), half = edge_width / 2;
  const double lo = std::max(0.0, (ires - half) / double(n));
  const double hi = std::min(double(f->half_nx()), (ires + half) / double(n));
  const double width = hi - lo;
  ForEachCoefficient(*f, [&](std::size_t i, int kx, int ky, int kz) {
    const double res = Radius(kx, ky, kz) / n;  // 1/px
    if (res < lo) return;
    if (res > hi)
      f->data()[i] = 0;
    else
      f->data()[i] *= float(0.5 + 0.5 * std::cos(M_PI * (res - lo) / width));
  });
}

void ApplyBFactorToMap(FourierGrid* f, double bfactor, double pixel_size) {
  const int n = f->logical_nx();
  ForEachCoefficient(*f, [&](std::size_t i, int kx, int ky, int kz) {
    const double res = Radius(kx, ky, kz) / (n * pixel_size);  // 1/Å
    if (res <= 1 / (2 * pixel_size))
      f->data()[i] *= float(std::exp(-(bfactor / 4) * res * res));
    else
      f->data()[i] = 0;
  });
}

void ApplyFscWeighting(FourierGrid* f, const std::vector<double>& fsc) {
  int last = 0;
  for (std::size_t s = 0; s < fsc.size(); ++s) {
    if (fsc[s] < 0.0001) break;
    last = static_cast<int>(s);
  }
  ForEachCoefficient(*f, [&](std::size_t i, int kx, int ky, int kz) {
    const int s = Shell(kx, ky, kz);
    if (s <= last && fsc[s] > 0)
      f->data()[i] *= float(std::sqrt(2 * fsc[s] / (1 + fsc[s])));
    else
      f->data()[i] = 0;
  });
}

void RandomizePhasesBeyond(FourierGrid* f, int shell, uint64_t seed, uint64_t stream) {
  Rng rng(seed, stream);
  const int nx = f->logical_nx(), ny = f->logical_ny(), nz = f->logical_nz(), hx = f->half_nx();
  const double shell2 = double(shell) * shell;
  Grid<Complex>& g = f->grid();
  for (int z = 0; z < nz; ++z) {
    const int kz = nz > 1 ? FourierGrid::Freq(z, nz) : 0;
    for (int y = 0; y < ny; ++y) {
      const int ky = FourierGrid::Freq(y, ny);
      for (int x = 0; x < hx; ++x) {
        if (double(x) * x + double(ky) * ky + double(kz) * kz < shell2) continue;
        const double phase = rng.Uniform(0, 2 * M_PI);
        Complex& c = g(x, y, z);
        const bool self_conjugate_plane = x == 0 || (nx % 2 == 0 && x == nx / 2);
        if (!self_conjugate_plane) {
          c = std::polar(std::abs(c), float(phase));
          continue;
        }
        // On these planes (x, y, z) and (x, -y, -z) are one coefficient and its conjugate.
        const int y2 = (ny - y) % ny, z2 = (nz - z) % nz;
        if (y2 == y && z2 == z) {
          c = Complex(phase < M_PI ? std::abs(c) : -std::abs(c), 0);  // real: a random sign
        } else if (z < z2 || (z == z2 && y < y2)) {
          c = std::polar(std::abs(c), float(phase));
          g(x, y2, z2) = std::conj(c);
        }
      }
    }
  }
}

Volume RandomizePhasesBeyond(const Volume& map, int shell, uint64_t seed, uint64_t stream, int threads) {
  FourierGrid f = Fft(map, threads);
  RandomizePhasesBeyond(&f, shell, seed, stream);
  return InverseFft(f, threads);
}

MtfCurve ReadMtfStar(const std::string& path) {
  const StarFile file = ReadStar(path);
  for (const StarTable& t : file.blocks) {
    if (!t.Has("rlnResolutionInversePixel") || !t.Has("rlnMtfValue")) continue;
    MtfCurve m;
    for (std::size_t r = 0; r < t.num_rows(); ++r) {
      m.inverse_pixel.push_back(t.GetDouble(r, "rlnResolutionInversePixel"));
      m.value.push_back(t.GetDouble(r, "rlnMtfValue"));
      if (!(m.value.back() >= 1e-10))
        throw InvalidInputError(t.Where(r) + ": rlnMtfValue " + t.Get(r, "rlnMtfValue") + " must be > 0");
    }
    if (m.value.size() < 2) throw InvalidInputError(path + ": the MTF needs at least two rows");
    if (!(m.inverse_pixel.back() > m.inverse_pixel.front()))
      throw InvalidInputError(path + ": rlnResolutionInversePixel must increase");
    return m;
  }
  throw InvalidInputError(path + ": no table with rlnResolutionInversePixel and rlnMtfValue");
}

void DivideByMtf(FourierGrid* f, const MtfCurve& mtf, double pixel_size, double mtf_pixel_size) {
  const int count = static_cast<int>(mtf.value.size());
  std::vector<double> res_A(count);  // 1/Å
  for (int i = 0; i < count; ++i) res_A[i] = mtf.inverse_pixel[i] / mtf_pixel_size;
  const double per_elem = (res_A[count - 1] - res_A[0]) / count;  // as RELION: / count
  const double box_A = f->logical_nx() * pixel_size;
  ForEachCoefficient(*f, [&](std::size_t i, int kx, int ky, int kz) {
    const double res = Radius(kx, ky, kz) / box_A;
    if (res >= 1 / (2 * pixel_size)) return;
    const int i0 = static_cast<int>(std::floor(res / per_elem));
    double m;
    if (i0 >= count - 1)
      m = mtf.value[count - 1];
    else if (i0 <= 0)
      m = mtf.value[0];
    else
      m = mtf.value[i0] + (mtf.value[i0 + 1] - mtf.value[i0]) * (res - res_A[i0]) / (res_A[i0 + 1] - res_A[i0]);
    f->data()[i] /= float(m);
  });
}

std::vector<GuinierPoint> GuinierPlot(const FourierGrid& f, double pixel_size, double fit_lowres, double fit_highres) {
  const int hx = f.half_nx(), n = f.logical_nx();
  std::vector<double> sum(hx, 0.0);
  std::vector<long> count(hx, 0);
  ForEachCoefficient(f, [&](std::size_t i, int kx, int ky, int kz) {
    const int s = Shell(kx, ky, kz);
    if (s < hx) {
      sum[s] += std::abs(std::complex<double>(f.data()[i]));
      ++count[s];
    }
  });
  std::vector<GuinierPoint> out;
  for (int s = 0; s < hx; ++s) {
    const double res = s == 0 ? HUGE_VAL : n * pixel_size / s;
    if (res < 2 * pixel_size) continue;
    GuinierPoint p;
    p.x = s == 0 ? 0.0 : 1 / (res * res);
    if (sum[s] > 0) {
      p.y = std::log(sum[s] / count[s]);
      p.w = res <= fit_lowres && res >= fit_highres ? 1 : 0;
    } else {
      p.y = -99;
      p.w = 0;
    }
    out.push_back(p);
  }
  return out;
}

LineFit FitStraightLine(const std::vector<GuinierPoint>& points) {
  double sxy = 0, sxx = 0, syy = 0, ax = 0, ay = 0, sw = 0;
  for (const auto& p : points) {
    ax += p.w * p.x;
    ay += p.w * p.y;
    sw += p.w;
    sxx += p.w * p.x * p.x;
    syy += p.w * p.y * p.y;
    sxy += p.w * p.x * p.y;
  }
  LineFit fit;
  if (!(sw > 0)) return fit;
  ax /= sw;
  ay /= sw;
  sxx -= sw * ax * ax;
  syy -= sw * ay * ay;
  sxy -= sw * ax * ay;
  if (sxx > 0) {
    fit.slope = sxy / sxx;
    fit.intercept = ay - fit.slope * ax;
    fit.correlation = syy > 0 ? sxy * sxy / (sxx * syy) : 1;
  }
  return fit;
}

}  // namespace emkit
