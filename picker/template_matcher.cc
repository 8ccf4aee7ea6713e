#include "picker/template_matcher.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>

#include "core/ctf.h"
#include "core/error.h"
#include "core/fft.h"
#include "core/filters.h"
#include "core/geometry.h"
#include "core/log.h"
#include "core/parallel.h"
#include "picker/local_stats.h"

namespace emkit {

void TemplateOptions::Check() const {
  auto bad = [](const std::string& field, const std::string& why) {
    throw InvalidInputError("template matching option " + field + ": " + why);
  };
  if (!(diameter > 0)) bad("diameter", "the particle diameter (Å) must be > 0");
  if (!(lowpass_angstrom > 0)) bad("lowpass_angstrom", "must be > 0");
  if (!(psi_step > 0 && psi_step <= 360)) bad("psi_step", "must be in (0, 360]");
  if (threads < 1) bad("threads", "must be >= 1");
}

namespace {

// Masked, mean-subtracted, unit-norm template on a box x box grid (centre box/2).
Image NormaliseUnderDisk(const Image& t, double radius) {
  const int n = t.nx(), c = n / 2;
  double sum = 0;
  int count = 0;
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x)
      if ((x - c) * (x - c) + (y - c) * (y - c) <= radius * radius) sum += t(x, y), ++count;
  const double mean = sum / std::max(count, 1);
  Image out(n, n);
  double norm2 = 0;
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x)
      if ((x - c) * (x - c) + (y - c) * (y - c) <= radius * radius) {
        out(x, y) = static_cast<float>(t(x, y) - mean);
        norm2 += double(out(x, y)) * out(x, y);
      }
  if (!(norm2 > 0)) throw InvalidInputError("template matching: a reference is flat inside the particle mask");
  const float s = static_cast<float>(1.0 / std::sqrt(norm2));
  for (auto& v : out) v *= s;
  return out;
}

// a * conj(b) element-wise on interleaved complex floats.
void MultiplyConj(const Complex* a, const Complex* b, Complex* out, std::size_t n) {
  const float* pa = reinterpret_cast<const float*>(a);
  const float* pb = reinterpret_cast<const float*>(b);
  float* po = reinterpret_cast<float*>(out);
  for (std::size_t i = 0; i < n; ++i) {
    const float ar = pa[2 * i], ai = pa[2 * i + 1], br = pb[2 * i], bi = pb[2 * i + 1];
    po[2 * i] = ar * br + ai * bi;
    po[2 * i + 1] = ai * br - ar * bi;
  }
}

// a * b element-wise on interleaved complex floats.
void Multiply(const Complex* a, const Complex* b, Complex* out, std::size_t n) {
  const float* pa = reinterpret_cast<const float*>(a);
  const float* pb = reinterpret_cast<const float*>(b);
  float* po = reinterpret_cast<float*>(out);
  for (std::size_t i = 0; i < n; ++i) {
    const float ar = pa[2 * i], ai = pa[2 * i + 1], br = pb[2 * i], bi = pb[2 * i + 1];
    po[2 * i] = ar * br - ai * bi;
    po[2 * i + 1] = ai * br + ar * bi;
  }
}

double Bilinear(const Image& g, int nx, int ny, double x, double y) {
  x = std::clamp(x, 0.0, nx - 1.0);
  y = std::clamp(y, 0.0, ny - 1.0);
  const int x0 = std::min(static_cast<int>(x), nx - 2 < 0 ? 0 : nx - 2);
  const int y0 = std::min(static_cast<int>(y), ny - 2 < 0 ? 0 : ny - 2);
  const int x1 = std::min(x0 + 1, nx - 1), y1 = std::min(y0 + 1, ny - 1);
  const double fx = x - x0, fy = y - y0;
  return (1 - fy) * ((1 - fx) * g(x0, y0) + fx * g(x1, y0)) + fy * ((1 - fx) * g(x0, y1) + fx * g(x1, y1));
}

}  // namespace

struct TemplateScoreMapper::Impl {
  ImageStack references;
  double reference_pixel = 1;
  TemplateOptions opt;
  std::vector<double> psis;
  // Prepared templates for the last (pixel size, CTF) seen: reused across micrographs.
  std::string prepared_key;
  std::vector<Image> templates;  // reference-major: index = ref * psis.size() + rot
  double mask_radius = 0;
  // Last score: best template per coarse pixel, and the coarse/working grids.
  std::vector<int> best_index;
  int coarse_nx = 0, coarse_ny = 0, work_nx = 0, work_ny = 0;

  // whitening: 1/sqrt(power) of the micrograph per shell, shell = r * whitening_scale with r in
  // cycles per pixel; empty = none.
  void Prepare(double pixel, const PreprocessedMicrograph& m, const std::vector<double>& whitening,
               double whitening_scale);
};

namespace {
double ProfileAt(const std::vector<double>& w, double shell) {
  const int i = static_cast<int>(shell);
  if (i + 1 >= static_cast<int>(w.size())) return w.empty() ? 1.0 : w.back();
  const double f = shell - i;
  return (1 - f) * w[i] + f * w[i + 1];
}
}  // namespace

void TemplateScoreMapper::Impl::Prepare(double pixel, const PreprocessedMicrograph& m,
                                        const std::vector<double>& whitening, double whitening_scale) {
  const bool ctf = opt.use_ctf && m.has_ctf;
  char key[256];
  std::snprintf(key, sizeof key, "%.6f %d %.3f %.3f %.3f %.3f %.3f %.3f %.3f", pixel, ctf ? 1 : 0, m.ctf.defocus_u,
                m.ctf.defocus_v, m.ctf.defocus_angle, m.ctf.voltage_kv, m.ctf.cs_mm, m.ctf.amplitude_contrast,
                m.ctf.phase_shift);
  if (whitening.empty() && prepared_key == key) return;  // whitened templates follow each micrograph
  std::vector<Image> scaled(references.size());
  for (std::size_t r = 0; r < references.size(); ++r) {
    const Image& ref = references[r];
    int box = 2 * static_cast<int>(std::lround(ref.nx() * reference_pixel / pixel / 2));
    box = std::max(box, 8);
    Image t = FourierResize(ref, box, box);
    BandPass bp;
    bp.lowpass_angstrom = opt.lowpass_angstrom;
    t = BandPassFilter(t, pixel, bp);
    if (ctf) {  // on a twice larger box, so the CTF's delocalised fringes are not wrapped
      const int big = 2 * box;
      Image padded(big, big);
      for (int y = 0; y < box; ++y)
        for (int x = 0; x < box; ++x) padded(x + box / 2, y + box / 2) = t(x, y);
      FourierGrid f = CentredFft(padded);
      const Grid<float> c = Ctf(m.ctf).HalfImage(big, pixel);
      for (std::size_t i = 0; i < f.size(); ++i) f.data()[i] *= c[i];
      padded = InverseCentredFft(f);
      for (int y = 0; y < box; ++y)
        for (int x = 0; x < box; ++x) t(x, y) = padded(x + box / 2, y + box / 2);
    }
    if (!whitening.empty()) {  // the matched filter for coloured noise: the same filter as the micrograph
      FourierGrid f = CentredFft(t);
      for (int y = 0; y < box; ++y) {
        const double fy = double(FourierGrid::Freq(y, box)) / box;
        for (int x = 0; x < f.half_nx(); ++x) {
          const double fx = double(x) / box;
          f.grid()(x, y) *= static_cast<float>(ProfileAt(whitening, std::sqrt(fx * fx + fy * fy) * whitening_scale));
        }
      }
      t = InverseCentredFft(f);
    }
    scaled[r] = std::move(t);
  }
  mask_radius = opt.diameter / 2 / pixel;
  for (const auto& t : scaled) mask_radius = std::min(mask_radius, t.nx() / 2.0 - 1);
  templates.assign(scaled.size() * psis.size(), Image());
  ParallelFor(opt.threads, templates.size(), [&](std::size_t i, int) {
    const Image& t = scaled[i / psis.size()];
    templates[i] = NormaliseUnderDisk(RotateImage(t, psis[i % psis.size()]), mask_radius);
  });
  prepared_key = key;
}

TemplateScoreMapper::TemplateScoreMapper(ImageStack references, double reference_pixel_size, const TemplateOptions& opt)
    : impl_(new Impl) {
  opt.Check();
  if (references.empty()) throw InvalidInputError("template matching: no references");
  if (!(reference_pixel_size > 0)) throw InvalidInputError("template matching: reference pixel size must be > 0");
  for (const auto& r : references)
    if (r.nx() != r.ny() || r.nz() != 1 || r.nx() < 8)
      throw InvalidInputError("template matching: references must be square 2D images of at least 8 px");
  if (!opt.reference_numbers.empty() && opt.reference_numbers.size() != references.size())
    throw InvalidInputError("template matching: reference_numbers must give one number per reference");
  impl_->references = std::move(references);
  impl_->reference_pixel = reference_pixel_size;
  impl_->opt = opt;
  for (int k = 0; k * opt.psi_step < 360 - 1e-9; ++k) impl_->psis.push_back(k * opt.psi_step);
}

TemplateScoreMapper::~TemplateScoreMapper() = default;

int TemplateScoreMapper::num_rotations() const { return static_cast<int>(impl_->psis.size()); }

Image TemplateScoreMapper::Score(const PreprocessedMicrograph& m) {
  Impl& s = *impl_;
  const int nx = m.image.nx(), ny = m.image.ny();
  double pixel = s.opt.correlation_pixel == 0  ? s.opt.lowpass_angstrom / 2.5
                 : s.opt.correlation_pixel < 0 ? m.pixel_size
                                               : s.opt.correlation_pixel;
  pixel = std::max(pixel, m.pixel_size);
  const int cnx = std::max(16, static_cast<int>(std::lround(nx * m.pixel_size / pixel)));
  const int cny = std::max(16, static_cast<int>(std::lround(ny * m.pixel_size / pixel)));
  pixel = m.pixel_size * nx / cnx;
  const Image coarse = (cnx == nx && cny == ny) ? m.image : FourierResize(m.image, cnx, cny, 1, s.opt.threads);
  const double t0 = NowSeconds();

  // The micrograph mirrored outwards by a template radius: the correlation and the local
  // statistics are periodic over the padded grid, and without the margin a template near one
  // edge would see the opposite edge (or zeros), whose step it can match better than a particle.
  const int margin = static_cast<int>(std::ceil(s.opt.diameter / 2 / pixel)) + 1;
  const int px = NiceFftSize(cnx + 2 * margin), py = NiceFftSize(cny + 2 * margin);
  Image padded = MirrorPad(coarse, margin, margin, px, py);
  FourierGrid fm = Fft(padded, s.opt.threads);
  std::vector<double> whitening;
  const double scale = std::max(px, py);
  if (s.opt.whiten) {
    // Radial power spectrum of the micrograph; the micrograph and the templates are both
    // divided by its square root (so the noise is white and NCC is the matched filter), and the
    // micrograph is low-passed like the templates so the local variance sees the same band.
    const int shells = static_cast<int>(scale * 0.75) + 2;
    std::vector<double> power(shells, 0.0), count(shells, 0.0);
    auto shell_of = [&](int x, int y) {
      const double fx = double(x) / px, fy = double(FourierGrid::Freq(y, py)) / py;
      return std::sqrt(fx * fx + fy * fy) * scale;
    };
    for (int y = 0; y < py; ++y)
      for (int x = 0; x < fm.half_nx(); ++x) {
        const int i = static_cast<int>(std::lround(shell_of(x, y)));
        power[i] += std::norm(fm.grid()(x, y));
        count[i] += 1;
      }
    whitening.assign(shells, 0.0);
    for (int i = 1; i < shells; ++i)
      whitening[i] = count[i] > 0 && power[i] > 0 ? 1.0 / std::sqrt(power[i] / count[i]) : 0.0;
    const double cut = pixel / s.opt.lowpass_angstrom * scale, edge = 2;  // raised cosine over 2 shells
    for (int y = 0; y < py; ++y)
      for (int x = 0; x < fm.half_nx(); ++x) {
        const double sh = shell_of(x, y);
        const double lp = sh <= cut - edge / 2   ? 1
                          : sh >= cut + edge / 2 ? 0
                                                 : 0.5 * (1 + std::cos(M_PI * (sh - cut + edge / 2) / edge));
        fm.grid()(x, y) *= static_cast<float>(ProfileAt(whitening, sh) * lp);
      }
    InverseFft(fm, &padded, s.opt.threads);
  }
  s.Prepare(pixel, m, whitening, scale);
  const double t1 = NowSeconds();
  const float n_total = static_cast<float>(static_cast<double>(px) * py);
  for (auto& v : fm.grid()) v *= n_total;  // one factor N for InverseFft(A * conj(B)) to be the correlation
  Image local_mean, local_std;
  LocalMeanStd(padded, s.mask_radius, &local_mean, &local_std, s.opt.threads);
  const double sqrt_count = std::sqrt(static_cast<double>(DiskPixelCount(s.mask_radius)));

  // A template turned by psi + 180 is the point reflection of the one turned by psi (exactly,
  // also after bilinear rotation), and correlating with t(-u) is convolving with t(u): one
  // forward FFT serves both angles (M conj(T) and M T).
  const std::size_t n_psi = s.psis.size();
  const bool pairs = n_psi % 2 == 0 && std::fabs(s.psis[n_psi / 2] - 180) < 1e-9;
  const std::size_t per_ref = pairs ? n_psi / 2 : n_psi;
  const std::size_t n_items = s.references.size() * per_ref;

  // Each thread keeps its own best map; merged with ties to the lower template index, so the
  // result does not depend on the thread count or the order items were handed out.
  const int threads = std::max(1, s.opt.threads);
  struct Work {
    Image buffer, correlation;
    FourierGrid spectrum, product;
    Image best;
    std::vector<int> index;
  };
  std::vector<Work> work(threads);
  for (auto& w : work) {
    w.buffer.Resize(px, py);
    w.best.Resize(cnx, cny, 1, -std::numeric_limits<float>::infinity());
    w.index.assign(static_cast<std::size_t>(cnx) * cny, -1);
    w.product = FourierGrid(px, py);
  }
  auto keep_best = [&](Work& w, int idx) {
    for (int y = 0; y < cny; ++y) {
      const float* cr = &w.correlation(margin, y + margin);
      float* best = &w.best(0, y);
      int* index = &w.index[static_cast<std::size_t>(y) * cnx];
      for (int x = 0; x < cnx; ++x)
        if (cr[x] > best[x] || (cr[x] == best[x] && idx < index[x])) best[x] = cr[x], index[x] = idx;
    }
  };
  ParallelFor(threads, n_items, [&](std::size_t item, int thread) {
    Work& w = work[thread];
    const std::size_t ref = item / per_ref, rot = item % per_ref;
    const int idx = static_cast<int>(ref * n_psi + rot);
    const Image& t = s.templates[idx];
    const int b = t.nx(), c = b / 2;
    for (int y = 0; y < b; ++y)
      for (int x = 0; x < b; ++x) w.buffer((x - c + px) % px, (y - c + py) % py) = t(x, y);
    Fft(w.buffer, &w.spectrum, 1);
    for (int y = 0; y < b; ++y)
      for (int x = 0; x < b; ++x) w.buffer((x - c + px) % px, (y - c + py) % py) = 0;
    MultiplyConj(fm.data(), w.spectrum.data(), w.product.data(), fm.size());
    InverseFft(w.product, &w.correlation, 1);
    keep_best(w, idx);
    if (pairs) {
      Multiply(fm.data(), w.spectrum.data(), w.product.data(), fm.size());
      InverseFft(w.product, &w.correlation, 1);
      keep_best(w, idx + static_cast<int>(n_psi / 2));
    }
  });
  const double t2 = NowSeconds();
  LOG_DEBUG("template matching " << cnx << "x" << cny << " (padded " << px << "x" << py << "), " << s.templates.size()
                                 << " templates (" << n_items << " forward FFTs): prepare " << t1 - t0
                                 << " s, correlate " << t2 - t1 << " s");
  Image fom(cnx, cny);
  s.best_index.assign(static_cast<std::size_t>(cnx) * cny, -1);
  for (int y = 0; y < cny; ++y)
    for (int x = 0; x < cnx; ++x) {
      const std::size_t i = static_cast<std::size_t>(y) * cnx + x;
      float best = -std::numeric_limits<float>::infinity();
      int index = -1;
      for (const auto& w : work)
        if (w.index[i] >= 0 && (w.best[i] > best || (w.best[i] == best && w.index[i] < index)))
          best = w.best[i], index = w.index[i];
      const double denom = sqrt_count * local_std(x + margin, y + margin);
      fom[i] = denom > 1e-6 ? static_cast<float>(best / denom) : 0.0f;
      s.best_index[i] = index;
    }
  s.coarse_nx = cnx;
  s.coarse_ny = cny;
  s.work_nx = nx;
  s.work_ny = ny;
  if (cnx == nx && cny == ny) return fom;
  Image out(nx, ny);
  const double fx = double(cnx) / nx, fy = double(cny) / ny;
  for (int y = 0; y < ny; ++y)
    for (int x = 0; x < nx; ++x) out(x, y) = static_cast<float>(Bilinear(fom, cnx, cny, x * fx, y * fy));
  return out;
}

void TemplateScoreMapper::Annotate(std::vector<Coordinate>* peaks) const {
  const Impl& s = *impl_;
  if (s.best_index.empty()) return;
  const std::size_t n_psi = s.psis.size();
  for (auto& p : *peaks) {
    const int cx = std::clamp(static_cast<int>(std::lround(p.x * s.coarse_nx / s.work_nx)), 0, s.coarse_nx - 1);
    const int cy = std::clamp(static_cast<int>(std::lround(p.y * s.coarse_ny / s.work_ny)), 0, s.coarse_ny - 1);
    const int idx = s.best_index[static_cast<std::size_t>(cy) * s.coarse_nx + cx];
    if (idx < 0) continue;
    const std::size_t ref = idx / n_psi;
    p.class_number = s.opt.reference_numbers.empty() ? static_cast<int>(ref) + 1 : s.opt.reference_numbers[ref];
    p.psi = s.psis[idx % n_psi];
  }
}

}  // namespace emkit
