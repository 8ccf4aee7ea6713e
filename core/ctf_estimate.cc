#include "core/ctf_estimate.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <string>

#include "core/error.h"
#include "core/fft.h"
#include "core/parallel.h"

namespace emkit {

void CtfEstimateOptions::Check() const {
  auto bad = [](const std::string& field, double v, const std::string& why) {
    throw InvalidInputError("CTF estimation option " + field + " = " + std::to_string(v) + ": " + why);
  };
  if (!(pixel_size > 0)) bad("pixel_size", pixel_size, "the micrograph pixel size (Å) must be > 0");
  if (!(voltage_kv > 0 && voltage_kv < 5000)) bad("voltage", voltage_kv, "must be in (0, 5000) kV");
  if (!(cs_mm >= 0 && cs_mm < 100)) bad("cs", cs_mm, "must be in [0, 100) mm");
  if (!(amplitude_contrast >= 0 && amplitude_contrast < 1))
    bad("amplitude_contrast", amplitude_contrast, "must be in [0, 1)");
  if (box < 64 || box % 2 != 0) bad("box", box, "must be even and >= 64");
  if (!(tile_overlap >= 0 && tile_overlap <= 0.9)) bad("tile_overlap", tile_overlap, "must be in [0, 0.9]");
  if (!(min_resolution > max_resolution && max_resolution > 0))
    bad("max_resolution", max_resolution, "must be > 0 and below min_resolution");
  if (!(min_resolution < box * pixel_size / 4))
    bad("min_resolution", min_resolution, "must be below a quarter of the box (" + std::to_string(box) + " px)");
  if (!(defocus_min > 0 && defocus_max > defocus_min))
    bad("defocus_max", defocus_max, "needs 0 < defocus_min < defocus_max (Å)");
  if (!(max_astigmatism >= 0)) bad("max_astigmatism", max_astigmatism, "must be >= 0");
  if (threads < 1) bad("threads", threads, "must be >= 1");
}

Image AverageAmplitudeSpectrum(const Image& mic, int box, int threads, int* tiles, double overlap) {
  if (mic.nx() < box || mic.ny() < box)
    throw InvalidInputError("micrograph of " + std::to_string(mic.nx()) + " x " + std::to_string(mic.ny()) +
                            " px is smaller than the spectrum box (" + std::to_string(box) + " px)");
  // Tiles overlap by about `overlap`, the first and last at the edges.
  const int step = std::max(1, static_cast<int>(std::lround(box * (1 - overlap))));
  auto starts = [box, step](int n) {
    const int count = (n - box) / step + 1 + ((n - box) % step != 0 ? 1 : 0);
    std::vector<int> s;
    for (int i = 0; i < count; ++i)
      s.push_back(count == 1 ? 0 : static_cast<int>(std::lround(double(i) * (n - box) / (count - 1))));
    return s;
  };
  const std::vector<int> xs = starts(mic.nx()), ys = starts(mic.ny());
  const int half = box / 2 + 1;
  // One accumulator per row of tiles, summed in order: the same result for any thread count.
  std::vector<std::vector<double>> rows(ys.size(), std::vector<double>(static_cast<std::size_t>(half) * box, 0.0));
  ParallelFor(threads, ys.size(), [&](std::size_t j, int) {
    Image tile(box, box, 1);
    FourierGrid f;
    for (int x0 : xs) {
      double mean = 0;
      for (int y = 0; y < box; ++y)
        for (int x = 0; x < box; ++x) mean += tile(x, y) = mic(x0 + x, ys[j] + y);
      mean /= double(box) * box;
      for (auto& v : tile) v = static_cast<float>(v - mean);
      Fft(tile, &f, 1);
      std::vector<double>& acc = rows[j];
      for (std::size_t i = 0; i < f.size(); ++i) acc[i] += std::norm(f.data()[i]);
    }
  });
  std::vector<double> power(static_cast<std::size_t>(half) * box, 0.0);
  for (const auto& r : rows)
    for (std::size_t i = 0; i < power.size(); ++i) power[i] += r[i];
  const double n = double(xs.size()) * ys.size();
  if (tiles) *tiles = static_cast<int>(n);
  Image out(box, box, 1);
  for (int y = 0; y < box; ++y)
    for (int x = 0; x < box; ++x) {
      int kx = x - box / 2, ky = y - box / 2;
      if (kx < 0) {  // Friedel mate in the stored half
        kx = -kx;
        ky = -ky;
      }
      const int row = ky < 0 ? ky + box : ky;
      if (kx >= half || row >= box) continue;  // kx = box/2 mirrored from -box/2: stored
      out(x, y) = static_cast<float>(std::sqrt(power[static_cast<std::size_t>(row) * half + kx] / n));
    }
  return out;
}

namespace {

// cos(2 pi t) to ~1e-7, branch-free so the pixel loop vectorises.
inline float CosTurns(float t) {
  t -= std::nearbyint(t);  // [-0.5, 0.5]
  float a = std::fabs(t);  // [0, 0.5]
  const float sign = a > 0.25f ? -1.f : 1.f;
  a = a > 0.25f ? 0.5f - a : a;  // [0, 0.25]
  const float u = 6.28318530718f * a, u2 = u * u;
  const float c = 1.f + u2 * (-0.5f + u2 * (1.f / 24 + u2 * (-1.f / 720 + u2 * (1.f / 40320 + u2 * (-1.f / 3628800)))));
  return sign * c;
}

// The fit's free parameters: mean defocus, astigmatism as a vector (half the difference U - V
// times cos/sin of twice the angle: no wrap-around), phase shift (radians).
struct Fit {
  double mean = 0, a1 = 0, a2 = 0, phase = 0;
};

struct Optics {
  double lambda = 0, cs = 0, k3 = 0;
  explicit Optics(const CtfEstimateOptions& o)
      : lambda(ElectronWavelength(o.voltage_kv * 1e3)),
        cs(o.cs_mm * 1e7),
        k3(std::atan(o.amplitude_contrast / std::sqrt(1 - o.amplitude_contrast * o.amplitude_contrast))) {}
  // RELION's phase (core/ctf.h) with the sign that makes CTF = sin(phase).
  double Phase(double s, double defocus, double phase_shift) const {
    return M_PI * lambda * defocus * s - M_PI / 2 * cs * lambda * lambda * lambda * s * s + phase_shift + k3;
  }
  // Thon-ring period in s = k^2 at s (half a turn of the phase).
  double Period(double s, double defocus) const {
    const double rate = lambda * defocus - cs * lambda * lambda * lambda * s;
    return 1.0 / std::max(std::fabs(rate), 1e-9);
  }
};

CtfParams ToParams(const Fit& f, const CtfEstimateOptions& o) {
  CtfParams p;
  p.voltage_kv = o.voltage_kv;
  p.cs_mm = o.cs_mm;
  p.amplitude_contrast = o.amplitude_contrast;
  const double dev = std::hypot(f.a1, f.a2);
  p.defocus_u = f.mean + dev;
  p.defocus_v = f.mean - dev;
  double angle = dev > 0 ? 0.5 * std::atan2(f.a2, f.a1) * 180 / M_PI : 0;
  if (angle < 0) angle += 180;
  if (angle >= 180) angle -= 180;
  p.defocus_angle = angle;
  double phase = std::fmod(f.phase * 180 / M_PI, 180.0);
  if (phase < 0) phase += 180;
  p.phase_shift = o.fit_phase_shift ? phase : 0;
  return p;
}

// Profiles over s = k^2 (1/Å^2), bins of equal width: Thon rings are evenly spaced in s.
struct Bins {
  int n = 0;
  double ds = 0;
  int Of(double s) const { return std::min(n - 1, static_cast<int>(s / ds)); }
  double Centre(int b) const { return (b + 0.5) * ds; }
};

// Pixels of the half plane kx > 1, |ky| > 1 (the axes carry the tiles' edge artefacts), inside
// the inscribed circle.
struct Pixels {
  std::vector<float> s, c2, s2, value;  // k^2, cos/sin of twice the angle, spectrum
  std::vector<int> bin, x, y;
};

Pixels CollectPixels(const Image& spectrum, double pixel_size, const Bins& bins) {
  const int box = spectrum.nx(), c = box / 2;
  const double scale = 1.0 / (box * pixel_size);
  Pixels p;
  for (int y = 0; y < box; ++y)
    for (int x = c + 2; x < box; ++x) {
      const int ix = x - c, iy = y - c;
      if (std::abs(iy) <= 1) continue;
      const double r2 = double(ix) * ix + double(iy) * iy;
      if (r2 > double(c - 1) * (c - 1)) continue;
      const double s = r2 * scale * scale;
      p.s.push_back(static_cast<float>(s));
      p.c2.push_back(static_cast<float>((double(ix) * ix - double(iy) * iy) / r2));
      p.s2.push_back(static_cast<float>(2.0 * ix * iy / r2));
      p.value.push_back(spectrum(x, y));
      p.bin.push_back(bins.Of(s));
      p.x.push_back(x);
      p.y.push_back(y);
    }
  return p;
}

// Background and spread of the amplitudes per bin: mean and standard deviation of the pixels
// within half a Thon-ring period (at `defocus`) on either side.
void Background(const Pixels& p, const Bins& bins, const Optics& optics, double defocus, std::vector<double>* mean,
                std::vector<double>* sd) {
  std::vector<double> c(bins.n + 1, 0), s1(bins.n + 1, 0), s2(bins.n + 1, 0);
  for (std::size_t i = 0; i < p.value.size(); ++i) {
    c[p.bin[i] + 1] += 1;
    s1[p.bin[i] + 1] += p.value[i];
    s2[p.bin[i] + 1] += double(p.value[i]) * p.value[i];
  }
  for (int b = 0; b < bins.n; ++b) {
    c[b + 1] += c[b];
    s1[b + 1] += s1[b];
    s2[b + 1] += s2[b];
  }
  mean->assign(bins.n, 0);
  sd->assign(bins.n, 1);
  for (int b = 0; b < bins.n; ++b) {
    const double s = bins.Centre(b), half = 0.5 * std::min(optics.Period(s, defocus), bins.n * bins.ds / 4);
    int lo = std::max(0, bins.Of(std::max(0.0, s - half))), hi = bins.Of(s + half);
    while (c[hi + 1] - c[lo] < 8 && (lo > 0 || hi < bins.n - 1)) {  // too few pixels near the centre
      lo = std::max(0, lo - 1);
      hi = std::min(bins.n - 1, hi + 1);
    }
    const double n = c[hi + 1] - c[lo];
    if (n <= 0) continue;
    const double m = (s1[hi + 1] - s1[lo]) / n;
    (*mean)[b] = m;
    (*sd)[b] = std::sqrt(std::max((s2[hi + 1] - s2[lo]) / n - m * m, 1e-20));
  }
}

// (amplitude - background) / spread, clipped to +-4 (JPEG block artefacts, hot pixels).
std::vector<float> Normalise(const Pixels& p, const std::vector<double>& mean, const std::vector<double>& sd) {
  std::vector<float> out(p.value.size());
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<float>(std::clamp((p.value[i] - mean[p.bin[i]]) / sd[p.bin[i]], -4.0, 4.0));
  return out;
}

double Pearson(double n, double sx, double sy, double sxx, double syy, double sxy) {
  const double vx = sxx - sx * sx / n, vy = syy - sy * sy / n;
  if (!(n > 2 && vx > 0 && vy > 0)) return 0;
  return (sxy - sx * sy / n) / std::sqrt(vx * vy);
}

// The 2D score: correlation of the normalised spectrum with CTF^2 over the fitted pixels.
class Scorer {
 public:
  Scorer(const Pixels& p, const std::vector<float>& norm, const Optics& optics, double s_min, double s_max, int stride)
      : optics_(optics) {
    for (std::size_t i = 0; i < norm.size(); i += stride)
      if (p.s[i] >= s_min && p.s[i] <= s_max) {
        s_.push_back(p.s[i]);
        c2_.push_back(p.c2[i]);
        s2_.push_back(p.s2[i]);
        v_.push_back(norm[i]);
      }
    for (float v : v_) {
      sy_ += v;
      syy_ += double(v) * v;
    }
  }
  std::size_t size() const { return v_.size(); }
  double operator()(const Fit& f) const {
    // sin^2(phase) = (1 - cos(2 phase)) / 2; with the phase in turns: t = phase / pi.
    const float a = static_cast<float>(optics_.lambda * f.mean), b1 = static_cast<float>(optics_.lambda * f.a1),
                b2 = static_cast<float>(optics_.lambda * f.a2);
    const float q = static_cast<float>(-0.5 * optics_.cs * std::pow(optics_.lambda, 3));
    const float t0 = static_cast<float>((f.phase + optics_.k3) / M_PI);
    float sx = 0, sxx = 0, sxy = 0;
    const std::size_t n = v_.size();
    const float *s = s_.data(), *c2 = c2_.data(), *s2 = s2_.data(), *v = v_.data();
    for (std::size_t i = 0; i < n; ++i) {
      const float t = (a + b1 * c2[i] + b2 * s2[i]) * s[i] + q * s[i] * s[i] + t0;
      const float m = 0.5f - 0.5f * CosTurns(t);
      sx += m;
      sxx += m * m;
      sxy += m * v[i];
    }
    return Pearson(double(n), sx, sy_, sxx, syy_, sxy);
  }

 private:
  const Optics& optics_;
  std::vector<float> s_, c2_, s2_, v_;
  double sy_ = 0, syy_ = 0;
};

// Nelder-Mead maximisation of f over x (n <= 4 parameters) from start with initial steps.
template <std::size_t N>
std::array<double, N> Simplex(const std::function<double(const std::array<double, N>&)>& f, std::array<double, N> start,
                              const std::array<double, N>& step, int max_evals) {
  std::array<std::array<double, N>, N + 1> x;
  std::array<double, N + 1> y;
  for (std::size_t i = 0; i <= N; ++i) {
    x[i] = start;
    if (i > 0) x[i][i - 1] += step[i - 1];
    y[i] = -f(x[i]);
  }
  int evals = N + 1;
  while (evals < max_evals) {
    std::array<std::size_t, N + 1> order;
    for (std::size_t i = 0; i <= N; ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return y[a] < y[b]; });
    const std::size_t best = order[0], worst = order[N], second = order[N - 1];
    bool small = true;
    for (std::size_t d = 0; d < N; ++d)
      for (std::size_t i = 0; i <= N; ++i) small &= std::fabs(x[i][d] - x[best][d]) < 1e-3 * step[d];
    if (small) break;
    std::array<double, N> centroid{};
    for (std::size_t i = 0; i <= N; ++i)
      if (i != worst)
        for (std::size_t d = 0; d < N; ++d) centroid[d] += x[i][d] / N;
    auto along = [&](double t) {
      std::array<double, N> p;
      for (std::size_t d = 0; d < N; ++d) p[d] = centroid[d] + t * (x[worst][d] - centroid[d]);
      return p;
    };
    const auto xr = along(-1);
    const double yr = -f(xr);
    ++evals;
    if (yr < y[best]) {
      const auto xe = along(-2);
      const double ye = -f(xe);
      ++evals;
      if (ye < yr) {
        x[worst] = xe;
        y[worst] = ye;
      } else {
        x[worst] = xr;
        y[worst] = yr;
      }
    } else if (yr < y[second]) {
      x[worst] = xr;
      y[worst] = yr;
    } else {
      const auto xc = along(yr < y[worst] ? -0.5 : 0.5);
      const double yc = -f(xc);
      ++evals;
      if (yc < std::min(yr, y[worst])) {
        x[worst] = xc;
        y[worst] = yc;
      } else {  // shrink towards the best
        for (std::size_t i = 0; i <= N; ++i)
          if (i != best) {
            for (std::size_t d = 0; d < N; ++d) x[i][d] = x[best][d] + 0.5 * (x[i][d] - x[best][d]);
            y[i] = -f(x[i]);
            ++evals;
          }
      }
    }
  }
  std::size_t best = 0;
  for (std::size_t i = 1; i <= N; ++i)
    if (y[i] < y[best]) best = i;
  return x[best];
}

// Mean of `values` per bin (NaN where a bin holds no pixel).
std::vector<double> BinMeans(const std::vector<int>& bin, const std::vector<float>& values, int n) {
  std::vector<double> sum(n, 0), count(n, 0);
  for (std::size_t i = 0; i < values.size(); ++i)
    if (bin[i] >= 0) {
      sum[bin[i]] += values[i];
      count[bin[i]] += 1;
    }
  for (int b = 0; b < n; ++b) sum[b] = count[b] > 0 ? sum[b] / count[b] : NAN;
  return sum;
}

// Best defocus of the 1D profile (local maxima of the score, best first) over the search range.
std::vector<Fit> Search1D(const std::vector<double>& profile, const Bins& bins, const Optics& optics,
                          const CtfEstimateOptions& o, double s_min, double s_max) {
  const double step = 1.0 / (8 * optics.lambda * s_max);
  std::vector<int> used;
  for (int b = bins.Of(s_min); b <= bins.Of(s_max); ++b)
    if (!std::isnan(profile[b])) used.push_back(b);
  const int phases = o.fit_phase_shift ? 18 : 1;
  std::vector<double> defoci;
  for (double d = o.defocus_min; d <= o.defocus_max + 1e-6; d += step) defoci.push_back(d);
  std::vector<Fit> best_per_defocus(defoci.size());
  std::vector<double> score(defoci.size(), -2);
  for (std::size_t i = 0; i < defoci.size(); ++i)
    for (int ph = 0; ph < phases; ++ph) {
      const double phase = ph * M_PI / phases;
      double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
      for (int b : used) {
        const double m = std::pow(std::sin(optics.Phase(bins.Centre(b), defoci[i], phase)), 2), v = profile[b];
        sx += m;
        sy += v;
        sxx += m * m;
        syy += v * v;
        sxy += m * v;
      }
      const double r = Pearson(double(used.size()), sx, sy, sxx, syy, sxy);
      if (r > score[i]) {
        score[i] = r;
        best_per_defocus[i] = Fit{defoci[i], 0, 0, phase};
      }
    }
  std::vector<std::size_t> peaks;
  for (std::size_t i = 0; i < defoci.size(); ++i)
    if ((i == 0 || score[i] >= score[i - 1]) && (i + 1 == defoci.size() || score[i] > score[i + 1])) peaks.push_back(i);
  std::sort(peaks.begin(), peaks.end(), [&](std::size_t a, std::size_t b) { return score[a] > score[b]; });
  std::vector<Fit> out;
  for (std::size_t i = 0; i < std::min<std::size_t>(3, peaks.size()); ++i) out.push_back(best_per_defocus[peaks[i]]);
  if (out.empty()) throw InvalidInputError("CTF estimation: no defocus in the search range");
  return out;
}

}  // namespace

CtfEstimate EstimateCtfFromSpectrum(const Image& amplitude, const CtfEstimateOptions& opt) {
  opt.Check();
  if (amplitude.nx() != opt.box || amplitude.ny() != opt.box)
    throw InvalidInputError("CTF estimation: the spectrum is not " + std::to_string(opt.box) + " px square");
  const Optics optics(opt);
  const double px = opt.pixel_size;
  const double s_nyquist = 0.25 / (px * px);
  const double s_min = 1 / (opt.min_resolution * opt.min_resolution);
  const double max_res = std::max(opt.max_resolution, 2.1 * px);
  const double s_max = 1 / (max_res * max_res);
  Bins bins;
  bins.n = 2 * opt.box;
  bins.ds = s_nyquist / bins.n;
  const Pixels pixels = CollectPixels(amplitude, px, bins);

  // Background for a defocus in the middle of the range (geometric), a 1D search, then the
  // background again for the defocus found.
  std::vector<double> bg, sd;
  Background(pixels, bins, optics, std::sqrt(opt.defocus_min * opt.defocus_max), &bg, &sd);
  std::vector<float> norm = Normalise(pixels, bg, sd);
  std::vector<Fit> starts = Search1D(BinMeans(pixels.bin, norm, bins.n), bins, optics, opt, s_min, s_max);
  Background(pixels, bins, optics, starts[0].mean, &bg, &sd);
  norm = Normalise(pixels, bg, sd);
  starts = Search1D(BinMeans(pixels.bin, norm, bins.n), bins, optics, opt, s_min, s_max);

  // 2D: a coarse grid of astigmatism around each 1D candidate on a quarter of the pixels, then
  // the simplex on all of them.
  const Scorer coarse(pixels, norm, optics, s_min, s_max, 4), full(pixels, norm, optics, s_min, s_max, 1);
  if (full.size() < 100)
    throw InvalidInputError("CTF estimation: too few spectrum pixels between the resolution limits");
  const double step = 1.0 / (8 * optics.lambda * s_max);
  const int dev_steps = static_cast<int>(std::ceil(opt.max_astigmatism / 2 / step));
  Fit best;
  double best_score = -2;
  for (const Fit& start : starts)
    for (int m = -2; m <= 2; ++m)
      for (int d = 0; d <= dev_steps; ++d)
        for (int a = 0; a < (d == 0 ? 1 : 12); ++a) {
          const double dev = std::min(d * step, opt.max_astigmatism / 2), angle = a * M_PI / 12;
          Fit f{start.mean + m * step, dev * std::cos(2 * angle), dev * std::sin(2 * angle), start.phase};
          if (f.mean - dev <= 0) continue;
          const double sc = coarse(f);
          if (sc > best_score) {
            best_score = sc;
            best = f;
          }
        }
  auto clamp_fit = [&](Fit f) {
    const double dev = std::hypot(f.a1, f.a2), cap = opt.max_astigmatism / 2;
    if (dev > cap && dev > 0) {
      f.a1 *= cap / dev;
      f.a2 *= cap / dev;
    }
    return f;
  };
  if (opt.fit_phase_shift) {
    auto x = Simplex<4>(
        [&](const std::array<double, 4>& v) {
          return full(clamp_fit(Fit{v[0], v[1], v[2], v[3]}));
        },
        {best.mean, best.a1, best.a2, best.phase}, {step, step, step, 0.2}, 600);
    best = clamp_fit(Fit{x[0], x[1], x[2], x[3]});
  } else {
    auto x = Simplex<3>(
        [&](const std::array<double, 3>& v) {
          return full(clamp_fit(Fit{v[0], v[1], v[2], 0}));
        },
        {best.mean, best.a1, best.a2}, {step, step, step}, 400);
    best = clamp_fit(Fit{x[0], x[1], x[2], 0});
  }

  CtfEstimate out;
  out.ctf = ToParams(best, opt);
  out.pixel_size = px;
  out.figure_of_merit = full(best);

  // Equiphase average: each pixel's s mapped to the s of equal phase at the mean defocus.
  const double a = 0.5 * M_PI * optics.cs * std::pow(optics.lambda, 3), b = M_PI * optics.lambda * best.mean;
  std::vector<int> eq_bin(pixels.s.size(), -1);
  for (std::size_t i = 0; i < pixels.s.size(); ++i) {
    const double s = pixels.s[i], df = best.mean + best.a1 * pixels.c2[i] + best.a2 * pixels.s2[i];
    const double g = M_PI * optics.lambda * df * s - a * s * s;  // phase without the constant terms
    const double disc = b * b - 4 * a * g;
    if (disc < 0) continue;
    const double seq = a > 0 ? (b - std::sqrt(disc)) / (2 * a) : g / b;
    if (seq >= 0 && seq < s_nyquist) eq_bin[i] = bins.Of(seq);
  }
  const std::vector<double> epa = BinMeans(eq_bin, norm, bins.n);
  std::vector<double> model(bins.n);
  for (int bb = 0; bb < bins.n; ++bb)
    model[bb] = std::pow(std::sin(optics.Phase(bins.Centre(bb), best.mean, best.phase)), 2);
  // Local correlation over two ring periods, from prefix sums over the bins that hold pixels.
  std::vector<double> pn(bins.n + 1, 0), px1(bins.n + 1, 0), py1(bins.n + 1, 0), pxx(bins.n + 1, 0), pyy(bins.n + 1, 0),
      pxy(bins.n + 1, 0);
  const int fit_start = bins.Of(s_min);  // below: the spectrum's centre, not rings
  for (int bb = 0; bb < bins.n; ++bb) {
    const bool ok = !std::isnan(epa[bb]) && bb >= fit_start;
    const double e = ok ? epa[bb] : 0, m = ok ? model[bb] : 0;
    pn[bb + 1] = pn[bb] + ok;
    px1[bb + 1] = px1[bb] + m;
    py1[bb + 1] = py1[bb] + e;
    pxx[bb + 1] = pxx[bb] + m * m;
    pyy[bb + 1] = pyy[bb] + e * e;
    pxy[bb + 1] = pxy[bb] + m * e;
  }
  std::vector<double> cc(bins.n, 0);
  for (int bb = 0; bb < bins.n; ++bb) {
    const double s = bins.Centre(bb), w = optics.Period(s, best.mean);
    const int lo = bins.Of(std::max(0.0, s - w)), hi = bins.Of(s + w);
    cc[bb] = Pearson(pn[hi + 1] - pn[lo], px1[hi + 1] - px1[lo], py1[hi + 1] - py1[lo], pxx[hi + 1] - pxx[lo],
                     pyy[hi + 1] - pyy[lo], pxy[hi + 1] - pxy[lo]);
  }
  // Fit resolution: from half a period beyond the low-resolution limit (windows are cut there),
  // outwards to the first bin whose local correlation is below 0.5; the limit itself when the
  // correlation does not reach 0.5 within two periods.
  int first = bins.n - 1;
  for (int bb = fit_start; bb < bins.n; ++bb)
    if (bins.Centre(bb) - 0.5 * optics.Period(bins.Centre(bb), best.mean) >= s_min) {
      first = bb;
      break;
    }
  // The correlation may rise within the first two periods (cut windows, the steep centre).
  const double s_first = bins.Centre(first), rise = s_first + 2 * optics.Period(s_first, best.mean);
  while (first < bins.n - 1 && bins.Centre(first) < rise && !(cc[first] >= 0.5)) ++first;
  int last = fit_start;
  if (cc[first] >= 0.5)
    for (int bb = first; bb < bins.n && (std::isnan(epa[bb]) || cc[bb] >= 0.5); ++bb) last = bb;
  out.fit_resolution = 1 / std::sqrt(bins.Centre(last));

  for (int bb = bins.Of(s_min / 4); bb < bins.n; ++bb) {
    if (std::isnan(epa[bb])) continue;
    out.frequency.push_back(std::sqrt(bins.Centre(bb)));
    out.equiphase.push_back(epa[bb]);
    out.fit.push_back(model[bb]);
    out.correlation.push_back(cc[bb]);
  }
  // The spectrum, normalised as fitted, for the picture (both halves from their own pixels).
  out.spectrum = Image(opt.box, opt.box, 1);
  const int c = opt.box / 2;
  const double scale = 1.0 / (opt.box * px);
  for (int y = 0; y < opt.box; ++y)
    for (int x = 0; x < opt.box; ++x) {
      const double s = (double(x - c) * (x - c) + double(y - c) * (y - c)) * scale * scale;
      if (s >= s_nyquist || s < s_min / 4) continue;
      const int bb = bins.Of(s);
      out.spectrum(x, y) = static_cast<float>(std::clamp((amplitude(x, y) - bg[bb]) / sd[bb], -4.0, 4.0));
    }
  return out;
}

Image CtfEstimate::DiagnosticImage() const {
  Image out = spectrum;
  const int box = out.nx(), c = box / 2;
  if (box == 0 || !(pixel_size > 0)) return out;
  // Left: the spectrum, smoothed over 3 x 3 pixels and clipped at +-2 so the rings show through
  // the pixel noise. Right, up to the fit resolution: CTF^2 from -2 to 2.
  for (int y = 1; y + 1 < box; ++y)
    for (int x = 1; x <= c; ++x) {
      if (spectrum(x, y) == 0) continue;
      double sum = 0;
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) sum += spectrum(x + dx, y + dy);
      out(x, y) = static_cast<float>(std::clamp(sum / 9 * 1.5, -2.0, 2.0));
    }
  const Ctf model(ctf);
  const double scale = 1.0 / (box * pixel_size), k_fit = fit_resolution > 0 ? 1 / fit_resolution : 0;
  for (int y = 0; y < box; ++y)
    for (int x = c + 1; x < box; ++x) {
      const double kx = (x - c) * scale, ky = (y - c) * scale;
      if (spectrum(x, y) == 0) continue;  // outside the picture's limits
      if (kx * kx + ky * ky > k_fit * k_fit) {
        out(x, y) = std::clamp(spectrum(x, y), -2.0f, 2.0f);
        continue;
      }
      const double v = model.Value(kx, ky);
      out(x, y) = static_cast<float>(4 * v * v - 2);
    }
  return out;
}

CtfEstimate EstimateCtf(const Image& micrograph, const CtfEstimateOptions& opt) {
  opt.Check();
  int tiles = 0;
  const Image amplitude = AverageAmplitudeSpectrum(micrograph, opt.box, opt.threads, &tiles, opt.tile_overlap);
  CtfEstimate e = EstimateCtfFromSpectrum(amplitude, opt);
  e.tiles = tiles;
  return e;
}

}  // namespace emkit
