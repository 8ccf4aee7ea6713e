#include "refine/backprojector.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdint>

#include "core/error.h"
#include "core/fft.h"
#include "core/parallel.h"
#include "core/projector.h"

namespace emkit {
namespace {

constexpr double kFixedScale = 1099511627776.0;  // 2^40

// Modified spherical Bessel function I_{3/2} and spherical J_{3/2} (the order-0 blob's transform).
double BesselI15(double x) {
  if (x < 1e-4) return std::sqrt(2 / (M_PI * x)) * (x * x / 3);  // I_{3/2}(x) ~ sqrt(2/(pi x)) x^2/3
  return std::sqrt(2 / (M_PI * x)) * (std::cosh(x) - std::sinh(x) / x);
}
double BesselJ15(double x) {
  if (x < 1e-4) return std::sqrt(2 / (M_PI * x)) * (x * x / 3);
  return std::sqrt(2 / (M_PI * x)) * (std::sin(x) / x - std::cos(x));
}

// RELION's kaiser_Fourier_value(w, a, alpha, m = 0).
double KaiserFourierValue(double w, double a, double alpha) {
  const double t = 2 * M_PI * a * w;
  const double sigma = std::sqrt(std::fabs(alpha * alpha - t * t));
  const double c = std::pow(2 * M_PI, 1.5) * a * a * a / std::cyl_bessel_i(0.0, alpha);
  if (sigma == 0) return c / 3 * std::sqrt(2 / M_PI);  // limit of I_{3/2}(s) / s^1.5
  return t > alpha ? c * BesselJ15(sigma) / std::pow(sigma, 1.5) : c * BesselI15(sigma) / std::pow(sigma, 1.5);
}

// RELION's TabFtBlob: 10000 samples over [0, 0.5), looked up by truncation; 0 beyond.
const std::vector<double>& BlobTable() {
  static const std::vector<double> table = [] {
    std::vector<double> t(10000);
    for (int i = 0; i < 10000; ++i) t[i] = KaiserFourierValue(i * (0.5 / 10000), 1.9 * 2, 15);
    return t;
  }();
  return table;
}

int RoundInt(double v) { return static_cast<int>(std::lround(v)); }

// round(v 2^40) as a 128-bit integer; through int64 when it fits (a conversion the CPU does).
inline __int128 ToFixed(double v) {
  const double x = std::nearbyint(v * kFixedScale);
  return std::fabs(x) < 9.2e18 ? static_cast<__int128>(static_cast<int64_t>(x)) : static_cast<__int128>(x);
}

// Slice pixel (x, y) -> padded volume coordinates pad * A^T (x, y, 0), kept when within the
// inserted sphere. Pixels exactly on the r_max circle (x^2 + y^2 = r_max^2) are kept whatever the
// rounding of their rotated coordinates (RELION's r2 > max_r2 test keeps or drops them by rounding).
struct SliceMap {
  double a00, a01, a10, a11, a20, a21, max_r2;
  SliceMap(const Mat3& a, int pad, int r_max) {
    const double p = pad;
    a00 = a(0, 0) * p, a01 = a(1, 0) * p, a10 = a(0, 1) * p, a11 = a(1, 1) * p, a20 = a(0, 2) * p, a21 = a(1, 2) * p;
    const int rp = RoundInt(r_max * pad);
    max_r2 = double(rp) * rp * (1 + 1e-12);
  }
  bool Map(int x, int y, double* xp, double* yp, double* zp) const {
    *xp = a00 * x + a01 * y;
    *yp = a10 * x + a11 * y;
    *zp = a20 * x + a21 * y;
    return *xp * *xp + *yp * *yp + *zp * *zp <= max_r2;
  }
};

}  // namespace

double BlobFourierValue(double r) {
  const auto& t = BlobTable();
  const int i = static_cast<int>(std::fabs(r) / (0.5 / 10000));
  return i >= static_cast<int>(t.size()) ? 0.0 : t[i];
}

BackProjector::BackProjector(int box, int pad, int r_max) : box_(box), pad_(pad) {
  if (box < 2) throw InvalidInputError("back-projector: box must be >= 2, got " + std::to_string(box));
  if (pad < 1 || pad > 4) throw InvalidInputError("back-projector: padding must be 1..4, got " + std::to_string(pad));
  r_max_ = r_max <= 0 ? box / 2 : std::min(r_max, box / 2);
  reach_ = RoundInt(pad_ * r_max_) + 1;
  side_ = 2 * reach_ + 1;
  // Inserted points lie within pad r_max (SliceMap, up to rounding), their trilinear neighbours
  // within pad r_max + sqrt(3): the cells within pad r_max + 2 are stored.
  const double keep2 = (double(pad_) * r_max_ + 2) * (double(pad_) * r_max_ + 2);
  row_len_.assign(static_cast<std::size_t>(side_) * side_, 0);
  row_start_.assign(row_len_.size(), 0);
  std::size_t n = 0;
  for (int z = -reach_; z <= reach_; ++z)
    for (int y = -reach_; y <= reach_; ++y) {
      const std::size_t row = Row(y, z);
      const double left = keep2 - double(y) * y - double(z) * z;
      row_start_[row] = n;
      row_len_[row] = left < 0 ? 0 : std::min(reach_, static_cast<int>(std::floor(std::sqrt(left)))) + 1;
      n += row_len_[row];
    }
  data_.assign(n, {0, 0});
  weight_.assign(n, 0);
}

void BackProjector::Clear() {
  std::fill(data_.begin(), data_.end(), std::complex<double>(0, 0));
  std::fill(weight_.begin(), weight_.end(), 0.0);
}

inline __attribute__((always_inline)) void BackProjector::Accumulate(double xp, double yp, double zp,
                                                                     std::complex<double> v, double wt) {
  if (xp < 0) {
    xp = -xp;
    yp = -yp;
    zp = -zp;
    v = std::conj(v);
  }
  const int x0 = static_cast<int>(std::floor(xp)), y0 = static_cast<int>(std::floor(yp)),
            z0 = static_cast<int>(std::floor(zp));
  if (x0 < 0 || x0 + 1 > reach_ || y0 < -reach_ || y0 + 1 > reach_ || z0 < -reach_ || z0 + 1 > reach_) return;
  // The four rows of the neighbours: stored as far as x0 + 1 for any point within pad r_max (the
  // only points Insert and InsertPixels pass on), so no further check in this hot loop.
  const std::size_t* start = &row_start_[Row(y0, z0)];
  assert(x0 + 1 < std::min(std::min(row_len_[Row(y0, z0)], row_len_[Row(y0 + 1, z0)]),
                           std::min(row_len_[Row(y0, z0 + 1)], row_len_[Row(y0 + 1, z0 + 1)])));
  const double fx = xp - x0, fy = yp - y0, fz = zp - z0;
  const double mx = 1 - fx, my = 1 - fy, mz = 1 - fz;
  const double dd[8] = {mz * my * mx, mz * my * fx, mz * fy * mx, mz * fy * fx,
                        fz * my * mx, fz * my * fx, fz * fy * mx, fz * fy * fx};
  const std::size_t i000 = start[0] + x0, i010 = start[1] + x0, i001 = start[side_] + x0, i011 = start[side_ + 1] + x0;
  const std::size_t idx[8] = {i000, i000 + 1, i010, i010 + 1, i001, i001 + 1, i011, i011 + 1};
  for (int c = 0; c < 8; ++c) {
    data_[idx[c]] += dd[c] * v;
    weight_[idx[c]] += dd[c] * wt;
  }
}

void BackProjector::Insert(const FourierGrid& f, const float* w, const Mat3& a, double shift_x, double shift_y) {
  const int n = box_, hx = n / 2 + 1;
  EMKIT_CHECK(!f.is_3d() && f.logical_nx() == n && f.logical_ny() == n,
              "back-projector: image transform of the wrong size");
  const SliceMap map(a, pad_, r_max_);
  const Complex* fd = f.data();
  // exp(-2 pi i (x sx + y sy) / n) = ex[x] ey[row]: two short tables instead of a sincos per pixel.
  const bool shifted = shift_x != 0 || shift_y != 0;
  std::vector<std::complex<double>> ex, ey;
  if (shifted) {
    ex.resize(hx);
    ey.resize(n);
    for (int x = 0; x < hx; ++x) ex[x] = std::polar(1.0, -2 * M_PI * x * shift_x / n);
    for (int i = 0; i < n; ++i) ey[i] = std::polar(1.0, -2 * M_PI * (i < hx ? i : i - n) * shift_y / n);
  }
  for (int i = 0; i < n; ++i) {
    // RELION's row convention: rows 0..n/2 are y >= 0; the x = 0 column of negative rows is the
    // conjugate of a positive one and is not inserted twice.
    const int y = i < hx ? i : i - n;
    const int first_x = i < hx ? 0 : 1;
    for (int x = first_x; x < hx; ++x) {
      const float wt = w ? w[static_cast<std::size_t>(i) * hx + x] : 1.0f;
      if (wt <= 0) continue;
      double xp, yp, zp;
      if (!map.Map(x, y, &xp, &yp, &zp)) continue;
      std::complex<double> v(fd[static_cast<std::size_t>(i) * hx + x]);
      if (shifted) v *= ex[x] * ey[i];
      Accumulate(xp, yp, zp, v, wt);
    }
  }
}

void BackProjector::InsertPixels(const int* kx, const int* ky, int count, const float* re, const float* im,
                                 const float* w, const Mat3& a) {
  const SliceMap map(a, pad_, r_max_);
  for (int i = 0; i < count; ++i) {
    const int x = kx[i], y = ky[i];
    if (x == 0 && y < 0) continue;
    const float wt = w[i];
    if (wt <= 0) continue;
    double xp, yp, zp;
    if (!map.Map(x, y, &xp, &yp, &zp)) continue;
    Accumulate(xp, yp, zp, std::complex<double>(re[i], im[i]), wt);
  }
}

BackProjector::SsnrArrays BackProjector::Ssnr(const std::vector<double>& tau2, double tau2_fudge,
                                              double weight_unit) const {
  const int ns = box_ / 2 + 1, R = reach_, P = side_;
  const int rp = RoundInt(r_max_ * pad_);
  const long max_r2 = static_cast<long>(rp) * rp;
  const double pad3 = double(pad_) * pad_ * pad_;
  std::vector<double> sigma2(ns, 0.0), counter(ns, 0.0), dvp(ns, 0.0), count2(ns, 0.0);
  auto each = [&](auto f) {
    for (int z = -R; z <= R; ++z)
      for (int y = -R; y <= R; ++y)
        for (int x = 0; x <= R; ++x) {
          const long r2 = long(x) * x + long(y) * y + long(z) * z;
          if (r2 >= max_r2) continue;
          const int ires = RoundInt(std::sqrt(double(r2)) / pad_);
          if (ires >= ns) continue;
          f(ires, weight_[Index(x, y, z)]);
        }
  };
  (void)P;
  each([&](int ires, double w) {
    sigma2[ires] += pad3 * w;
    counter[ires] += 1;
  });
  for (int i = 0; i < ns; ++i) sigma2[i] = sigma2[i] > 1e-300 ? counter[i] / sigma2[i] : 0.0;
  each([&](int ires, double w) {
    const double t2 = ires < static_cast<int>(tau2.size()) ? tau2[ires] : 0.0;
    double inv;
    if (t2 > 0)
      inv = 1 / (pad3 * tau2_fudge * t2);
    else
      inv = w > 0 ? 1 / (0.001 * w * weight_unit * weight_unit) : 0.0;
    if (inv > 0) dvp[ires] += w / inv;
    count2[ires] += 1;
  });
  for (int i = 0; i < ns; ++i) {
    if (i > r_max_)
      dvp[i] = 0;
    else if (count2[i] < 0.001)
      dvp[i] = 999;
    else
      dvp[i] /= count2[i];
  }
  return {sigma2, dvp, {}};
}

BackProjector::SsnrArrays BackProjector::SsnrFromFsc(const std::vector<double>& fsc, double tau2_fudge,
                                                     bool whole) const {
  SsnrArrays out = Ssnr({}, 1.0);
  const int ns = box_ / 2 + 1;
  out.tau2.assign(ns, 0.0);
  for (int i = 0; i < ns; ++i) {
    double f = std::max(0.001, i < static_cast<int>(fsc.size()) ? fsc[i] : 0.0);
    if (whole) f = std::sqrt(2 * f / (f + 1));
    f = std::min(0.999, f);
    const double ssnr = tau2_fudge * f / (1 - f);
    out.tau2[i] = ssnr * out.sigma2[i];
    out.data_vs_prior[i] = ssnr;
  }
  return out;
}

std::vector<double> BackProjector::HalfFsc(const BackProjector& a, const BackProjector& b) {
  EMKIT_CHECK(a.box_ == b.box_ && a.pad_ == b.pad_ && a.r_max_ == b.r_max_, "FSC of back-projectors of one shape");
  const int D = a.r_max_ + 1, side = 2 * D + 1;
  const std::size_t cells = static_cast<std::size_t>(side) * side * (D + 1);
  auto index = [&](int x, int y, int z) { return (static_cast<std::size_t>(z + D) * side + (y + D)) * (D + 1) + x; };
  auto average = [&](const BackProjector& bp) {
    std::vector<std::complex<double>> avg(cells);
    std::vector<double> w(cells, 0.0);
    bp.ForEachCell([&](std::size_t c, int x, int y, int z) {
      const int kp = RoundInt(double(z) / bp.pad_), ip = RoundInt(double(y) / bp.pad_),
                jp = RoundInt(double(x) / bp.pad_);
      if (std::abs(kp) > D || std::abs(ip) > D || jp > D) return;
      const std::size_t d = index(jp, ip, kp);
      avg[d] += bp.data_[c];
      w[d] += bp.weight_[c];
    });
    for (std::size_t i = 0; i < cells; ++i) avg[i] = w[i] > 0 ? avg[i] / w[i] : std::complex<double>(0, 0);
    return avg;
  };
  const std::vector<std::complex<double>> a1 = average(a), a2 = average(b);
  const int ns = a.box_ / 2 + 1;
  std::vector<double> num(ns, 0.0), d1(ns, 0.0), d2(ns, 0.0), fsc(ns, 0.0);
  for (int z = -D; z <= D; ++z)
    for (int y = -D; y <= D; ++y)
      for (int x = 0; x <= D; ++x) {
        const double r = std::sqrt(double(x) * x + double(y) * y + double(z) * z);
        if (r > a.r_max_) continue;
        const int idx = RoundInt(r);
        if (idx >= ns) continue;
        const std::complex<double> z1 = a1[index(x, y, z)], z2 = a2[index(x, y, z)];
        num[idx] += z1.real() * z2.real() + z1.imag() * z2.imag();
        d1[idx] += std::norm(z1);
        d2[idx] += std::norm(z2);
      }
  for (int i = 0; i < ns; ++i)
    if (d1[i] * d2[i] > 0) fsc[i] = num[i] / std::sqrt(d1[i] * d2[i]);
  fsc[0] = 1;
  return fsc;
}

void BackProjector::JoinLowResolution(BackProjector* a, BackProjector* b, int r) {
  EMKIT_CHECK(a->box_ == b->box_ && a->pad_ == b->pad_ && a->r_max_ == b->r_max_, "join back-projectors of one shape");
  const int rp = RoundInt(double(a->pad_) * r);
  const long max_r2 = static_cast<long>(rp) * rp;
  const int R = std::min(a->reach_, rp);
  for (int z = -R; z <= R; ++z)
    for (int y = -R; y <= R; ++y)
      for (int x = 0; x <= R; ++x) {
        if (long(x) * x + long(y) * y + long(z) * z > max_r2 || !a->Stored(x, y, z)) continue;
        const std::size_t c = a->Index(x, y, z);
        const std::complex<double> d = (a->data_[c] + b->data_[c]) / 2.0;
        const double w = (a->weight_[c] + b->weight_[c]) / 2;
        a->data_[c] = b->data_[c] = d;
        a->weight_[c] = b->weight_[c] = w;
      }
}

void BackProjector::Add(const BackProjector& other) {
  EMKIT_CHECK(box_ == other.box_ && pad_ == other.pad_ && r_max_ == other.r_max_, "add back-projectors of one shape");
  for (std::size_t i = 0; i < data_.size(); ++i) data_[i] += other.data_[i];
  for (std::size_t i = 0; i < weight_.size(); ++i) weight_[i] += other.weight_[i];
}

void BackProjector::Symmetrise(const SymmetryGroup& sym, int threads) {
  // Hermitian symmetry of the x = 0 plane (each pair once; sums, not averages).
  for (int z = -reach_; z <= reach_; ++z)
    for (int y = z < 0 ? 0 : 1; y <= reach_; ++y) {
      if (!Stored(0, y, z)) continue;  // nor (0, -y, -z): rows are stored symmetrically
      const std::size_t a = Index(0, y, z), b = Index(0, -y, -z);
      const std::complex<double> s = data_[a] + std::conj(data_[b]);
      data_[a] = s;
      data_[b] = std::conj(s);
      const double ws = weight_[a] + weight_[b];
      weight_[a] = ws;
      weight_[b] = ws;
    }
  std::vector<Mat3> ops;
  for (const Mat3& m : sym.matrices())
    if (MaxAbsDifference(m, Mat3::Identity()) > 1e-9) ops.push_back(m);
  if (ops.empty()) return;
  const int rp = RoundInt(r_max_ * pad_);
  const double rmax2 = double(rp) * rp;
  std::vector<std::complex<double>> sum_data = data_;
  std::vector<double> sum_weight = weight_;
  for (const Mat3& r : ops) {
    ParallelFor(threads, side_, [&](std::size_t zi, int) {
      const int z = static_cast<int>(zi) - reach_;
      for (int y = -reach_; y <= reach_; ++y)
        for (int x = 0; x <= reach_; ++x) {
          if (double(x) * x + double(y) * y + double(z) * z > rmax2) continue;
          double xp = r(0, 0) * x + r(0, 1) * y + r(0, 2) * z;
          double yp = r(1, 0) * x + r(1, 1) * y + r(1, 2) * z;
          double zp = r(2, 0) * x + r(2, 1) * y + r(2, 2) * z;
          bool neg = false;
          if (xp < 0) {
            xp = -xp;
            yp = -yp;
            zp = -zp;
            neg = true;
          }
          const int x0 = static_cast<int>(std::floor(xp)), y0 = static_cast<int>(std::floor(yp)),
                    z0 = static_cast<int>(std::floor(zp));
          if (x0 < 0 || x0 + 1 > reach_ || y0 < -reach_ || y0 + 1 > reach_ || z0 < -reach_ || z0 + 1 > reach_) continue;
          const double fx = xp - x0, fy = yp - y0, fz = zp - z0;
          const std::size_t r00 = Row(y0, z0), r10 = r00 + 1, r01 = r00 + side_, r11 = r01 + 1;
          if (x0 + 1 >= std::min(std::min(row_len_[r00], row_len_[r10]), std::min(row_len_[r01], row_len_[r11])))
            continue;  // not reached from within the sphere (neighbours lie within pad r_max + sqrt(3))
          const std::size_t i000 = row_start_[r00] + x0, i010 = row_start_[r10] + x0, i001 = row_start_[r01] + x0,
                            i011 = row_start_[r11] + x0;
          auto lerp = [](double t, auto a, auto b) { return a + (b - a) * t; };
          const auto& d = data_;
          const std::complex<double> dx00 = lerp(fx, d[i000], d[i000 + 1]);
          const std::complex<double> dx01 = lerp(fx, d[i001], d[i001 + 1]);
          const std::complex<double> dx10 = lerp(fx, d[i010], d[i010 + 1]);
          const std::complex<double> dx11 = lerp(fx, d[i011], d[i011 + 1]);
          const std::complex<double> v = lerp(fz, lerp(fy, dx00, dx10), lerp(fy, dx01, dx11));
          const auto& wv = weight_;
          const double wx00 = lerp(fx, wv[i000], wv[i000 + 1]);
          const double wx01 = lerp(fx, wv[i001], wv[i001 + 1]);
          const double wx10 = lerp(fx, wv[i010], wv[i010 + 1]);
          const double wx11 = lerp(fx, wv[i011], wv[i011 + 1]);
          const std::size_t o = Index(x, y, z);
          sum_data[o] += neg ? std::conj(v) : v;
          sum_weight[o] += lerp(fz, lerp(fy, wx00, wx10), lerp(fy, wx01, wx11));
        }
    });
  }
  data_.swap(sum_data);
  weight_.swap(sum_weight);
}

Volume BackProjector::Reconstruct(const ReconstructOptions& opt) const {
  const int n = box_, R = reach_;
  const int rp = RoundInt(r_max_ * pad_);
  const long max_r2 = static_cast<long>(rp) * rp;
  const double pad3 = double(pad_) * pad_ * pad_;
  const std::size_t cells = weight_.size();
  auto r2_of = [](int x, int y, int z) { return long(x) * x + long(y) * y + long(z) * z; };

  // Weights (with RELION's MAP term) and the iterative gridding correction on the stored cells.
  std::vector<double> fweight(cells, 0.0), fnew(cells, 0.0);
  ForEachCell([&](std::size_t i, int x, int y, int z) {
    const long r2 = r2_of(x, y, z);
    if (r2 > max_r2) return;
    double w = weight_[i];
    if (!opt.tau2.empty() && r2 < max_r2) {
      const int ires = RoundInt(std::sqrt(double(r2)) / pad_);
      const double t2 = ires < static_cast<int>(opt.tau2.size()) ? opt.tau2[ires] : 0.0;
      double inv = 0;
      if (t2 > 0)
        inv = 1 / (pad3 * opt.tau2_fudge * t2);
      else if (w > 1e-20)
        inv = 1 / (0.001 * w * opt.weight_unit * opt.weight_unit);
      if (ires >= opt.minres_map) w += inv;
    }
    fweight[i] = w;
    if (r2 < max_r2) fnew[i] = 1;
  });
  // The convolution of the weights with the blob runs on a Q^3 grid holding the window
  // (x <= R, |y|, |z| <= R). RELION uses Q = P = 2R + 1, often a prime (131 for a 64 px box) that
  // FFTW transforms ~5x slower than a size of small factors; the blob vanishes beyond 0.5 / pad of
  // the padded box in real space, so a larger grid changes the weights only by rounding-level
  // amounts (FSC with relion_reconstruct's map: benchmarks/results/reconstruct).
  const int Q = NiceFftSize(2 * R + 2);
  FourierGrid conv(Q, Q, Q);
  // The blob's transform on the Q^3 real grid (RELION's indices: k < Q/2 positive).
  std::vector<float> blob(static_cast<std::size_t>(Q) * Q * Q);
  {
    const double norm = BlobFourierValue(0);
    const int half = Q / 2;
    for (int k = 0; k < Q; ++k)
      for (int j = 0; j < Q; ++j)
        for (int l = 0; l < Q; ++l) {
          const int kp = k < half ? k : k - Q, jp = j < half ? j : j - Q, lp = l < half ? l : l - Q;
          const double r = std::sqrt(double(kp) * kp + double(jp) * jp + double(lp) * lp) / (double(n) * pad_);
          blob[(static_cast<std::size_t>(k) * Q + j) * Q + l] = static_cast<float>(BlobFourierValue(r) / norm);
        }
  }
  Image real;
  for (int iter = 0; iter < opt.iterations; ++iter) {
    conv.grid().Fill(Complex(0, 0));  // the last round's convolution spread beyond the window
    ForEachCell([&](std::size_t i, int x, int y, int z) {
      conv.At(x, y, z) = Complex(static_cast<float>(fnew[i] * fweight[i]), 0);
    });
    InverseFftOverwriting(&conv, &real, opt.threads);  // conv is made again from real
    for (std::size_t i = 0; i < real.size(); ++i) real[i] *= blob[i];
    Fft(real, &conv, opt.threads);
    ForEachCell([&](std::size_t i, int x, int y, int z) {
      if (r2_of(x, y, z) >= max_r2) return;
      fnew[i] /= std::max(1e-6, static_cast<double>(std::abs(conv.At(x, y, z))));
    });
  }

  // data x corrected weight on the 2n-padded grid, inverse transform, window to the box.
  real = Image();
  conv = FourierGrid();
  std::vector<float>().swap(blob);
  std::vector<double>().swap(fweight);
  int padded = RoundInt(double(pad_) * n);
  padded += padded % 2;
  Image full;
  {
    FourierGrid big(padded, padded, padded);
    ForEachCell([&](std::size_t i, int x, int y, int z) {
      if (fnew[i] == 0) return;
      if (x > padded / 2 || y < -padded / 2 || y >= padded / 2 || z < -padded / 2 || z >= padded / 2) return;
      big.At(x, y, z) = Complex(data_[i] * fnew[i]);
    });
    full = InverseCentredFftOverwriting(&big, opt.threads);  // big is not needed after
  }
  Volume vol(n, n, n);
  const int off = padded / 2 - n / 2;
  const double norm = pad3 * n;
  for (int z = 0; z < n; ++z)
    for (int y = 0; y < n; ++y)
      for (int x = 0; x < n; ++x) vol(x, y, z) = static_cast<float>(full(x + off, y + off, z + off) / norm);

  // RELION's softMaskOutsideMap (radius n/2, cosine edge 3 px, the mean beyond it as background).
  SoftMaskOutsideMap(&vol, n / 2.0, 3);
  GriddingCorrect(&vol, double(n) * pad_);
  return vol;
}

void SoftMaskOutsideMap(Volume* v, double radius, double edge) {
  Volume& vol = *v;
  const int n = vol.nx();
  const int c = n / 2;
  const double radius_p = radius + edge;
  double sum = 0, sum_bg = 0;
  auto rc = [&](double r) { return 0.5 + 0.5 * std::cos(M_PI * (radius_p - r) / edge); };
  for (int z = 0; z < n; ++z)
    for (int y = 0; y < n; ++y)
      for (int x = 0; x < n; ++x) {
        const double r = std::sqrt(double(x - c) * (x - c) + double(y - c) * (y - c) + double(z - c) * (z - c));
        if (r < radius) continue;
        const double g = r > radius_p ? 1.0 : rc(r);
        sum += g;
        sum_bg += g * vol(x, y, z);
      }
  if (sum > 0) sum_bg /= sum;
  for (int z = 0; z < n; ++z)
    for (int y = 0; y < n; ++y)
      for (int x = 0; x < n; ++x) {
        const double r = std::sqrt(double(x - c) * (x - c) + double(y - c) * (y - c) + double(z - c) * (z - c));
        if (r < radius) continue;
        const double g = r > radius_p ? 1.0 : rc(r);
        vol(x, y, z) = static_cast<float>((1 - g) * vol(x, y, z) + g * sum_bg);
      }
}

void SoftSphereMask(Volume* v, double radius, double edge) {
  Volume& vol = *v;
  const int n = vol.nx(), c = n / 2;
  const double radius_p = radius + edge;
  for (int z = 0; z < n; ++z)
    for (int y = 0; y < n; ++y)
      for (int x = 0; x < n; ++x) {
        const double r = std::sqrt(double(x - c) * (x - c) + double(y - c) * (y - c) + double(z - c) * (z - c));
        if (r < radius) continue;
        const double g = r > radius_p ? 0.0 : 0.5 - 0.5 * std::cos(M_PI * (radius_p - r) / edge);
        vol(x, y, z) = static_cast<float>(g * vol(x, y, z));
      }
}

void BackProjector::AddToFixed(std::vector<__int128>* total) const {
  EMKIT_CHECK(total->size() == fixed_size(), "back-projector: fixed-point sums of another size");
  const std::size_t c = cells();
  __int128* t = total->data();
  for (std::size_t i = 0; i < c; ++i) {
    if (weight_[i] == 0 && data_[i] == std::complex<double>(0, 0)) continue;
    t[i] += ToFixed(data_[i].real());
    t[c + i] += ToFixed(data_[i].imag());
    t[2 * c + i] += ToFixed(weight_[i]);
  }
}

void BackProjector::SetFromFixed(const std::vector<__int128>& total) {
  EMKIT_CHECK(total.size() == fixed_size(), "back-projector: fixed-point sums of another size");
  const std::size_t c = cells();
  for (std::size_t i = 0; i < c; ++i) {
    data_[i] = {static_cast<double>(total[i]) / kFixedScale, static_cast<double>(total[c + i]) / kFixedScale};
    weight_[i] = static_cast<double>(total[2 * c + i]) / kFixedScale;
  }
}

}  // namespace emkit
