#include "refine/mstep2d.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/fft.h"
#include "core/filters.h"
#include "core/geometry.h"
#include "refine/padding2d.h"

namespace emkit {
namespace {
constexpr double kScale = 1099511627776.0;  // 2^40: fixed-point resolution ~1e-12
}

Class2dSums::Class2dSums(int classes, int box, int pad, int current_size, double grid_scale)
    : classes_(classes),
      box_(box * pad),
      hx_(box * pad / 2 + 1),
      shells_(box / 2 + 1),
      pad_(pad),
      grid_scale_(grid_scale) {
  reach_ = std::min(pad * ((current_size > 0 ? current_size : box) / 2) + 2, box_ / 2);
  grid_ = static_cast<std::size_t>(2 * reach_ + 1) * (reach_ + 1);
  stride_ = 3 * grid_;
  if (grid64()) {
    g64_.assign(classes_ * stride_, 0);
    base_ = 0;
  } else {
    base_ = classes_ * stride_;
  }
  v_.assign(base_ + shells_ + 4 * classes_ + 4, 0);
}

Class2dSums Class2dSums::ScalarsOnly(int classes, int box) {
  Class2dSums s(classes, box, 1, 2, 0);
  s.grid_ = s.stride_ = s.base_ = 0;
  s.v_.assign(s.shells_ + 4 * s.classes_ + 4, 0);
  return s;
}

double Class2dSums::Get(std::size_t i) const { return static_cast<double>(v_[i]) / kScale; }

long Class2dSums::Slot(int ky, int kx) const {
  if (ky < -reach_ || ky > reach_ || kx < 0 || kx > reach_) return -1;
  return static_cast<long>(ky + reach_) * (reach_ + 1) + kx;
}

double Class2dSums::At(int k, int part, int i) const {
  const long slot = Slot(FourierGrid::Freq(i / hx_, box_), i % hx_);
  if (slot < 0) return 0.0;
  const std::size_t j = static_cast<std::size_t>(k) * stride_ + part * grid_ + slot;
  return grid64() ? static_cast<double>(static_cast<int64_t>(g64_[j])) / grid_scale_ : Get(j);
}
void Class2dSums::Put(std::size_t i, double value) {
  if (value != 0) v_[i] += static_cast<__int128>(std::nearbyint(value * kScale));
}

void Class2dSums::Add(const Class2dSums& o) {
  EMKIT_CHECK(o.v_.size() == v_.size() && o.g64_.size() == g64_.size() && o.grid_scale_ == grid_scale_,
              "Class2dSums of different shapes");
  for (std::size_t i = 0; i < v_.size(); ++i) v_[i] += o.v_[i];
  for (std::size_t i = 0; i < g64_.size(); ++i) g64_[i] += o.g64_[i];
  max_added_ = std::max(max_added_, o.max_added_);
}

void Class2dSums::AddClass(const EStepSetup& s, int k, const std::vector<float>& d, const std::vector<float>& w,
                           std::vector<double>* scratch, std::mutex* lock) {
  const int P = s.px.size(), npsi = s.num_orient();
  const int n = box_;
  EMKIT_CHECK(pad_ * (s.px.current_size / 2) + 2 <= reach_ || reach_ == box_ / 2, "Class2dSums window too small");
  scratch->assign(stride_, 0.0);
  double* dre = scratch->data();
  double* dim = dre + grid_;
  double* wg = dim + grid_;
  for (int j = 0; j < npsi; ++j) {
    const float* dm = &d[static_cast<std::size_t>(j) * 2 * P];
    const float* wm = &w[static_cast<std::size_t>(j) * P];
    if (std::all_of(wm, wm + P, [](float v) { return v == 0; })) continue;
    const Mat3& a = s.orient.matrices[j];
    const double a00 = a(0, 0), a01 = a(0, 1), a10 = a(1, 0), a11 = a(1, 1);
    for (int p = 0; p < P; ++p) {
      const double vr = dm[p], vi = dm[P + p], vw = wm[p];
      if (vw == 0 && vr == 0 && vi == 0) continue;
      // Adjoint of SampleRotated: spread onto the four neighbours of A^T k.
      const double sx = pad_ * (a00 * s.px.kx[p] + a10 * s.px.ky[p]), sy = pad_ * (a01 * s.px.kx[p] + a11 * s.px.ky[p]);
      const int x0 = static_cast<int>(std::floor(sx)), y0 = static_cast<int>(std::floor(sy));
      const double fx = sx - x0, fy = sy - y0;
      const double bw[4] = {(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy};
      const int cx[4] = {x0, x0 + 1, x0, x0 + 1}, cy[4] = {y0, y0, y0 + 1, y0 + 1};
      for (int q = 0; q < 4; ++q) {
        int x = cx[q], y = cy[q];
        double im = vi;
        if (x < 0) x = -x, y = -y, im = -vi;
        if (x > n / 2 || y >= n / 2 || y < -n / 2) continue;
        const long slot = Slot(y, x);
        if (slot < 0) continue;
        const std::size_t idx = static_cast<std::size_t>(slot);
        dre[idx] += bw[q] * vr;
        dim[idx] += bw[q] * im;
        wg[idx] += bw[q] * vw;
      }
    }
  }
  const std::size_t base = static_cast<std::size_t>(k) * stride_;
  if (grid64()) {
    double most = 0;
    for (std::size_t i = 0; i < stride_; ++i) most = std::max(most, std::fabs((*scratch)[i]));
    // Beyond 2^62 the conversion itself would overflow: leave it to the caller's check.
    const double limit = 4611686018427387904.0 / grid_scale_;
    const std::lock_guard<std::mutex> guard(*lock);
    max_added_ = std::max(max_added_, most);
    if (most >= limit) return;
    for (std::size_t i = 0; i < stride_; ++i) {
      const double v = (*scratch)[i];
      if (v != 0) g64_[base + i] += static_cast<uint64_t>(static_cast<int64_t>(std::nearbyint(v * grid_scale_)));
    }
    return;
  }
  const std::lock_guard<std::mutex> guard(*lock);
  for (std::size_t i = 0; i < stride_; ++i) Put(base + i, (*scratch)[i]);
}

void Class2dSums::AddScalars(const ChunkSums& c, std::mutex* lock) {
  const std::lock_guard<std::mutex> guard(*lock);
  for (int sh = 0; sh < shells_ && sh < static_cast<int>(c.sigma2_num.size()); ++sh) Put(base_ + sh, c.sigma2_num[sh]);
  for (int k = 0; k < classes_; ++k) {
    Put(base_ + shells_ + k, c.class_weight[k]);
    Put(base_ + shells_ + classes_ + k, c.psi_var[k]);
    Put(base_ + shells_ + 2 * classes_ + k, c.offset_var[k]);
    Put(base_ + shells_ + 3 * classes_ + k, c.count[k]);
  }
  Put(base_ + shells_ + 4 * classes_, c.offset2);
  Put(base_ + shells_ + 4 * classes_ + 1, c.loglik);
  Put(base_ + shells_ + 4 * classes_ + 2, c.pmax);
  Put(base_ + shells_ + 4 * classes_ + 3, c.weight_total);
}

namespace {

void CentreImage(Image* img, double radius) {
  const int n = img->nx();
  const double c = n / 2;
  double sx = 0, sy = 0, sw = 0;
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) {
      const double v = (*img)(x, y);
      if (v <= 0 || std::hypot(x - c, y - c) > radius) continue;
      sx += v * x, sy += v * y, sw += v;
    }
  if (sw <= 0) return;
  const double dx = c - sx / sw, dy = c - sy / sw;
  if (std::hypot(dx, dy) < 0.01) return;
  FourierGrid f = Fft(*img);
  ShiftFourier(&f, dx, dy);
  *img = InverseFft(f);
}

}  // namespace

void MStepOtherParameters(const Class2dSums& sums, const MStepOptions& opt, Class2dModel* model) {
  const int n = model->box, hx = n / 2 + 1, ns = model->shells();
  const int r = opt.current_size / 2;
  const double wtot = std::max(sums.weight_total(), 1e-30);
  std::vector<double> shell_count(ns, 0.0);
  for (int y = 0; y < n; ++y) {
    const int ky = FourierGrid::Freq(y, n);
    for (int x = 0; x < hx; ++x) {
      const int sh = static_cast<int>(std::lround(std::sqrt(double(x * x + ky * ky))));
      if (sh < ns && x * x + ky * ky < r * r) shell_count[sh] += 1;
    }
  }
  for (int sh = 0; sh < ns && sh < r; ++sh)
    if (shell_count[sh] > 0) model->sigma2_noise[sh] = sums.sigma2_num(sh) / (2.0 * wtot * shell_count[sh]);
  for (int k = 0; k < model->classes; ++k) {
    model->pk[k] = sums.class_weight(k) / wtot;
    const double cnt_k = sums.count(k);
    model->acc_rot[k] = cnt_k > 0 ? std::sqrt(sums.psi_var(k) / cnt_k) : 999;
    model->acc_trans_px[k] = cnt_k > 0 ? std::sqrt(sums.offset_var(k) / cnt_k) : 999;
  }
  model->sigma_offset_px = std::max(0.1, std::sqrt(sums.offset2() / (2.0 * wtot)));
  model->loglik = sums.loglik();
  model->ave_pmax = opt.num_particles > 0 ? sums.pmax() / opt.num_particles : 0;
}

void MStep(const Class2dSums& sums, const MStepOptions& opt, Class2dModel* model) {
  const int n = model->box, hx = n / 2 + 1, K = model->classes, ns = model->shells();
  const int r = opt.current_size / 2;
  std::vector<int> shell_of(static_cast<std::size_t>(hx) * n);
  for (int y = 0; y < n; ++y) {
    const int ky = FourierGrid::Freq(y, n);
    for (int x = 0; x < hx; ++x)
      shell_of[static_cast<std::size_t>(y) * hx + x] =
          static_cast<int>(std::lround(std::sqrt(double(x * x + ky * ky))));
  }
  MStepOtherParameters(sums, opt, model);
  int best_shell = 1;
  model->tau2_fudge = opt.tau2_fudge;
  const int pad = opt.pad;
  const int np = n * pad, hxp = np / 2 + 1;
  for (int k = 0; k < K; ++k) {
    // Sums on the (padded) class grid; W and the prior are per padded pixel, i.e. pad^2 smaller.
    std::vector<std::complex<double>> d(static_cast<std::size_t>(hxp) * np);
    std::vector<double> w(d.size());
    for (std::size_t i = 0; i < d.size(); ++i) {
      d[i] = {sums.D_re(k, static_cast<int>(i)), sums.D_im(k, static_cast<int>(i))};
      w[i] = sums.W(k, static_cast<int>(i));
    }
    // kx = 0 holds both (0, ky) and its conjugate (0, -ky): merge them.
    for (int ky = 1; ky < np / 2; ++ky) {
      const std::size_t a = static_cast<std::size_t>(ky) * hxp, b = static_cast<std::size_t>(np - ky) * hxp;
      const std::complex<double> dd = d[a] + std::conj(d[b]);
      const double ww = w[a] + w[b];
      d[a] = dd, d[b] = std::conj(dd), w[a] = w[b] = ww;
    }
    std::vector<int> pshell(d.size(), ns);
    for (int y = 0; y < np; ++y) {
      const int ky = FourierGrid::Freq(y, np);
      for (int x = 0; x < hxp; ++x)
        if (x * x + ky * ky < pad * pad * r * r)
          pshell[static_cast<std::size_t>(y) * hxp + x] =
              static_cast<int>(std::lround(std::sqrt(double(x * x + ky * ky)) / pad));
    }
    std::vector<double> wsum(ns, 0.0), cnt(ns, 0.0);
    for (std::size_t i = 0; i < d.size(); ++i) {
      const int sh = pshell[i];
      if (sh < r) wsum[sh] += w[i] * pad * pad, cnt[sh] += 1;
    }
    std::vector<double>& tau2 = model->tau2[k];
    // The prior beyond the shells it was estimated on: flat extension of the last estimate, so the
    // data decide whether the new shells hold signal (tau2 grows) or not (it shrinks).
    std::vector<double> prior = tau2;
    for (int sh = 1; sh < ns; ++sh)
      if (!(prior[sh] > 0)) prior[sh] = prior[sh - 1];
    FourierGrid f(np, np);
    for (std::size_t i = 0; i < d.size(); ++i) {
      const int sh = pshell[i];
      if (sh >= r) continue;
      const double reg = prior[sh] > 0 ? 1.0 / (pad * pad * opt.tau2_fudge * prior[sh]) : -1;
      const std::complex<double> v = reg < 0 ? 0.0 : d[i] / (w[i] + reg);
      f.data()[i] = Complex(static_cast<float>(v.real()), static_cast<float>(v.imag()));
    }
    Image img = pad == 1 ? InverseCentredFft(f) : CropPadded(InverseCentredFft(f), n, pad);
    {
      // tau2: power spectrum of the new reference (RELION), on the unpadded grid.
      const FourierGrid g = CentredFft(img);
      std::vector<double> power(ns, 0.0), pcnt(ns, 0.0);
      for (int y = 0; y < n; ++y) {
        const int ky = FourierGrid::Freq(y, n);
        for (int x = 0; x < hx; ++x) {
          const int sh = shell_of[static_cast<std::size_t>(y) * hx + x];
          if (x * x + ky * ky >= r * r || sh >= ns) continue;
          power[sh] += std::norm(g.grid()(x, y));
          pcnt[sh] += 1;
        }
      }
      for (int sh = 0; sh < ns && sh < r; ++sh) tau2[sh] = pcnt[sh] > 0 ? power[sh] / pcnt[sh] : 0.0;
    }
    int res_shell = 0;
    for (int sh = 0; sh < ns; ++sh) {
      if (sh < r) {
        model->sigma2_ref[k][sh] = wsum[sh] > 0 ? cnt[sh] / wsum[sh] : 0.0;
        // RELION's data_vs_prior uses the weights of its padded grid (pad^2 smaller per pixel); so
        // does emkit, so the resolution estimates and the image-size schedule are RELION's.
        model->ssnr[k][sh] = wsum[sh] > 0 ? opt.tau2_fudge * tau2[sh] * wsum[sh] / (cnt[sh] * pad * pad) : 0.0;
      } else {
        model->sigma2_ref[k][sh] = 0;
        model->ssnr[k][sh] = 0;
      }
    }
    for (int sh = 1; sh < ns; ++sh) {
      if (model->ssnr[k][sh] < 1) break;
      res_shell = sh;
    }
    if (sums.count(k) > 0 || sums.class_weight(k) > 0) best_shell = std::max(best_shell, res_shell + 1);
    model->est_resolution[k] = res_shell + 1 < ns ? n * model->pixel_size / (res_shell + 1) : 2 * model->pixel_size;
    if (opt.center_classes) CentreImage(&img, opt.mask_radius_px);
    if (opt.mask_radius_px > 0) {
      SoftMask mask;
      mask.radius_px = opt.mask_radius_px;
      mask.edge_width_px = opt.mask_edge_px;
      ApplySoftMask(&img, mask);
    }
    model->refs[k] = img;
  }
  model->current_resolution = n * model->pixel_size / best_shell;
  model->current_size = std::min(n, 2 * (best_shell + opt.incr_size));
}

}  // namespace emkit

namespace emkit {

namespace {

// Power spectrum (mean |F|^2 per shell within |k| < n/2) of class k's average D/W of `s`, zeroed
// beyond max_shell (its transform in `out` when given), and the pixel count per shell.
std::pair<std::vector<double>, std::vector<double>> SumsSpectrum(const Class2dSums& s, int n, int k, int max_shell,
                                                                 FourierGrid* out) {
  const int hx = n / 2 + 1, ns = n / 2 + 1;
  std::vector<double> spec(ns, 0.0), cnt(ns, 0.0);
  for (int y = 0; y < n; ++y) {
    const int ky = FourierGrid::Freq(y, n);
    const std::size_t a = static_cast<std::size_t>(y) * hx, b = static_cast<std::size_t>((n - y) % n) * hx;
    for (int x = 0; x < hx; ++x) {
      const int r2 = x * x + ky * ky;
      const int sh = static_cast<int>(std::lround(std::sqrt(double(r2))));
      if (r2 >= (n / 2) * (n / 2) || sh >= ns) continue;
      const std::size_t i = a + x;
      std::complex<double> d(s.D_re(k, static_cast<int>(i)), s.D_im(k, static_cast<int>(i)));
      double w = s.W(k, static_cast<int>(i));
      if (x == 0 && y != 0) {  // (0, ky) and (0, -ky) are conjugates: merge their sums
        d += std::conj(std::complex<double>(s.D_re(k, static_cast<int>(b)), s.D_im(k, static_cast<int>(b))));
        w += s.W(k, static_cast<int>(b));
      }
      const std::complex<double> v = w > 0 && sh <= max_shell ? d / w : 0.0;
      if (out) out->data()[i] = Complex(static_cast<float>(v.real()), static_cast<float>(v.imag()));
      spec[sh] += std::norm(v);
      cnt[sh] += 1;
    }
  }
  for (int sh = 0; sh < ns; ++sh) spec[sh] = cnt[sh] > 0 ? spec[sh] / cnt[sh] : 0.0;
  return std::make_pair(spec, cnt);
}

}  // namespace

void InitialNoise(const Class2dSums& average, Class2dModel* model) {
  const int n = model->box, ns = model->shells();
  const double count = std::max(average.weight_total(), 1e-30);
  const auto [avg_spec, cnt] = SumsSpectrum(average, n, 0, n / 2, nullptr);
  for (int sh = 0; sh < ns; ++sh)
    model->sigma2_noise[sh] = cnt[sh] > 0 ? average.sigma2_num(sh) / (2.0 * count * cnt[sh]) - avg_spec[sh] / 2 : 0.0;
  // Non-positive noise power (RELION): take the previous shell's value, else the next positive one.
  for (int sh = 0; sh < ns; ++sh) {
    if (model->sigma2_noise[sh] > 0) continue;
    double v = sh > 0 ? model->sigma2_noise[sh - 1] : 0.0;
    for (int j = sh + 1; !(v > 0) && j < ns; ++j) v = model->sigma2_noise[j];
    model->sigma2_noise[sh] = v > 0 ? v : 1.0;
  }
}

void InitialModel(const Class2dSums& average, const Class2dSums& random, const MStepOptions& opt, Class2dModel* model) {
  const int n = model->box, K = model->classes, ns = model->shells();
  const int r0 = std::min(opt.initial_lowpass_shell, n / 2);
  InitialNoise(average, model);
  model->tau2_fudge = opt.tau2_fudge;
  int best_shell = 1;
  for (int k = 0; k < K; ++k) {
    FourierGrid f(n, n);
    const std::vector<double> spec = SumsSpectrum(random, n, k, r0, &f).first;
    Image img = InverseCentredFft(f);
    if (opt.mask_radius_px > 0) {
      SoftMask mask;
      mask.radius_px = opt.mask_radius_px;
      mask.edge_width_px = opt.mask_edge_px;
      ApplySoftMask(&img, mask);
    }
    model->refs[k] = img;
    model->pk[k] = 1.0 / K;
    int shell = 0;
    for (int sh = 0; sh < ns; ++sh) {
      model->tau2[k][sh] = spec[sh];
      model->ssnr[k][sh] = opt.num_particles / K * opt.tau2_fudge * spec[sh] / (2 * model->sigma2_noise[sh]);
      model->sigma2_ref[k][sh] = 0;
    }
    while (shell < n / 2 && model->ssnr[k][shell] >= 1) ++shell;
    shell = std::max(shell, 1);
    best_shell = std::max(best_shell, shell);
    model->est_resolution[k] = n * model->pixel_size / shell;
    model->acc_rot[k] = model->acc_trans_px[k] = 999;
  }
  model->current_resolution = n * model->pixel_size / best_shell;
  model->current_size = std::min(n, 2 * (best_shell + opt.incr_size));
  model->loglik = model->ave_pmax = 0;
}

}  // namespace emkit
