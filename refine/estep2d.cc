#include "refine/estep2d.h"

#include <cblas.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "core/geometry.h"

namespace emkit {

void SetNoise(const std::vector<double>& sigma2_noise, EStepSetup* s) {
  std::vector<double> sigma2 = sigma2_noise;
  double floor_value = 0;
  for (double v : sigma2_noise)
    if (v > 0 && (floor_value == 0 || v < floor_value)) floor_value = v;
  if (floor_value == 0) floor_value = 1;
  for (double& v : sigma2)
    if (!(v > 0)) v = floor_value;
  const int P = s->px.size();
  s->inv_sigma2.resize(P);
  for (int p = 0; p < P; ++p) {
    s->inv_sigma2[p] = static_cast<float>(1.0 / sigma2[s->px.shell[p]]);
    if (Scored(*s, p)) s->log_norm_const -= std::log(2 * M_PI * sigma2[s->px.shell[p]]);
  }
}

int ScoringSize(double resolution, double pixel_size, int n) {
  if (!(resolution > 0)) return 0;
  return 2 * std::max(1, static_cast<int>(std::lround(n * pixel_size / resolution)));
}

int LimitScoring(double resolution, double pixel_size, FourierPixels* px) {
  const int size = ScoringSize(resolution, pixel_size, px->n), radius = size / 2;
  if (size == 0 || size >= px->current_size) return 0;
  std::vector<int> order(px->size());
  for (int p = 0; p < px->size(); ++p) order[p] = p;
  const auto scored = [&](int p) { return px->kx[p] * px->kx[p] + px->ky[p] * px->ky[p] < radius * radius; };
  const int count = static_cast<int>(std::stable_partition(order.begin(), order.end(), scored) - order.begin());
  FourierPixels out;
  out.n = px->n;
  out.current_size = px->current_size;
  for (int p : order) {
    out.index.push_back(px->index[p]);
    out.kx.push_back(px->kx[p]);
    out.ky.push_back(px->ky[p]);
    out.shell.push_back(px->shell[p]);
  }
  *px = std::move(out);
  return count;
}

void SetTranslationPhases(EStepSetup* s) {
  const int T = static_cast<int>(s->trans.size()), P = s->px.size();
  s->phase.resize(static_cast<std::size_t>(T) * P);
  for (int t = 0; t < T; ++t)
    for (int p = 0; p < P; ++p) {
      const double ph = -2 * M_PI * (s->px.kx[p] * s->trans[t].x + s->px.ky[p] * s->trans[t].y) / s->px.n;
      s->phase[static_cast<std::size_t>(t) * P + p] =
          Complex(static_cast<float>(std::cos(ph)), static_cast<float>(std::sin(ph)));
    }
}

namespace {

uint32_t FloatBits(float v) {
  uint32_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

// The smallest weight kept: the smallest set of samples whose (normalised) weights add up
// to `fraction`. Ties at the threshold are all kept.
// `each(f)` calls f(v) for the n weights, always in the same order (the bins' sums follow it).
template <typename Each>
float SignificanceThreshold(std::size_t n, const Each& each, double fraction, std::vector<float>* scratch) {
  // Samples below (1 - fraction) / n together weigh less than 1 - fraction, so the threshold
  // is never below that: only larger weights count.
  const float floor_value = static_cast<float>((1.0 - fraction) / std::max<std::size_t>(n, 1));
  // Broad posteriors leave millions above the floor. Instead of sorting them all, they are summed
  // per bin of the float's exponent and first 4 mantissa bits (bins ordered as the values, all
  // weights being positive); walking the bins from the largest, only the bin where the sum
  // reaches `fraction` is sorted, and its weights added one by one.
  constexpr int kShift = 19, kBins = 1 << (32 - 1 - kShift);
  std::array<double, kBins> by_bin{};
  float smallest = 0;
  bool any = false;
  each([&](float v) {
    if (v > floor_value) {
      by_bin[(FloatBits(v) >> kShift) & (kBins - 1)] += v;
      smallest = any ? std::min(smallest, v) : v;
      any = true;
    }
  });
  double above = 0;  // the weights of the bins above bin e
  for (int e = kBins - 1; e >= 0; --e) {
    if (by_bin[e] == 0 || above + by_bin[e] < fraction) {
      above += by_bin[e];
      continue;
    }
    scratch->clear();
    each([&](float v) {
      if (v > floor_value && static_cast<int>((FloatBits(v) >> kShift) & (kBins - 1)) == e) scratch->push_back(v);
    });
    std::sort(scratch->begin(), scratch->end(), std::greater<float>());
    double cum = above;
    for (const float v : *scratch) {
      cum += v;
      if (cum >= fraction) return v;
    }
    above = cum;  // rounding: the bin's own sum reached it, its weights added one by one did not
  }
  return smallest;  // the weights above the floor add up to less than `fraction`: keep them all
}

double WrapDegrees(double d) {
  d = std::fmod(d, 360.0);
  if (d > 180) d -= 360;
  if (d < -180) d += 360;
  return d;
}

void SetAngles(const OrientationSet& o, int j, ParticleResult* r) {
  r->orientation = j;
  r->rot = o.angles[j].rot;
  r->tilt = o.angles[j].tilt;
  r->psi = o.angles[j].psi;
}

// Degrees between orientations i and j of the set: the psi difference for in-plane sets, the
// angle of the rotation between them otherwise.
double AngularDistance(const OrientationSet& o, int i, int j) {
  if (o.in_plane) return WrapDegrees(o.angles[i].psi - o.angles[j].psi);
  const Mat3 r = o.matrices[i] * o.matrices[j].Transposed();
  const double c = std::max(-1.0, std::min(1.0, (r(0, 0) + r(1, 1) + r(2, 2) - 1) / 2));
  return std::acos(c) * 180.0 / M_PI;
}

}  // namespace

void EStepChunk(const EStepSetup& s, const std::vector<PreparedParticle>& parts,
                const std::vector<Translation>& offsets, const std::vector<int>* forced,
                std::vector<ParticleResult>* results, ChunkSums* sums, EStepWorkspace* ws) {
  const int nc = static_cast<int>(parts.size());
  const int P = s.px.size(), M = s.num_refs(), K = s.classes, npsi = s.num_orient();
  const int Ps = s.score_pixels > 0 ? std::min(P, s.score_pixels) : P;  // the pixels that make the probabilities
  const int Pt = s.table_pixels();                                      // ref_ri's rows per half
  EMKIT_CHECK(Pt >= Ps, "E-step: the reference table lacks scored pixels");
  EMKIT_CHECK(npsi > 0 && static_cast<int>(s.orient.log_prior.size()) == npsi, "E-step without orientations");
  const int T = static_cast<int>(s.trans.size());
  const int rows = nc * T;
  const int nshell = s.px.n / 2 + 1;
  // Y: rows (i, t) x 2P of CTF X_t / s2; G: CTF^2 / (2 s2); G2: CTF^2 / s2.
  ws->y.resize(static_cast<std::size_t>(rows) * 2 * P);
  ws->g.resize(static_cast<std::size_t>(nc) * P);
  ws->g2.resize(static_cast<std::size_t>(nc) * P);
  std::vector<double> xnorm(nc, 0.0);
  for (int i = 0; i < nc; ++i) {
    const PreparedParticle& pp = parts[i];
    double xn = 0;
    for (int p = 0; p < P; ++p) {
      const float c = pp.ctf[p], is = s.inv_sigma2[p];
      ws->g[static_cast<std::size_t>(i) * P + p] = 0.5f * c * c * is;
      ws->g2[static_cast<std::size_t>(i) * P + p] = c * c * is;
      if (p < Ps) xn += 0.5 * double(std::norm(pp.x[p])) * is;
    }
    xnorm[i] = xn;
    for (int t = 0; t < T; ++t) {
      float* yr = &ws->y[static_cast<std::size_t>(i * T + t) * 2 * P];
      const Complex* ph = &s.phase[static_cast<std::size_t>(t) * P];
      for (int p = 0; p < P; ++p) {
        const Complex z = pp.x[p] * ph[p] * (pp.ctf[p] * s.inv_sigma2[p]);
        yr[p] = z.real();
        yr[P + p] = z.imag();
      }
    }
  }
  // The cross terms and the weights share one buffer (the largest of the workspace).
  // Dense weights (2D): rows x M, a particle's weights written over its rows once its cross terms
  // are used; the last chunk's weights (ws->wt) become this chunk's cross terms.
  // Sparse weights (3D): each particle's significant weights are copied out, and with
  // tabulated references the buffer holds one particle's T x M cross terms, made just before they
  // are used (rows x M floats are the largest allocation of 3D classification otherwise).
  // 3D makes every particle's cross terms with its own products (T rows), so the same terms either way.
  const bool sparse = SparseWeights(s, forced != nullptr);
  const bool per_particle = sparse && !forced && !ReferencesMadeOnDemand(s);
  if (ws->cross.empty()) ws->cross.swap(ws->wt);
  if (sparse) {
    std::vector<float>().swap(ws->wt);
  } else {
    ws->wt.clear();
  }
  ws->cross.resize(static_cast<std::size_t>(sparse && forced ? 0 : per_particle ? T : rows) * M);
  ws->weight_start.assign(sparse ? static_cast<std::size_t>(nc) * M + 1 : 0, 0);
  ws->weight_row.clear();
  ws->weight.clear();
  ws->norm.resize(static_cast<std::size_t>(nc) * M);
  // cross(:, m0 .. m0 + count - 1) = Y V for the columns `v` (2 h rows of stride ld) and the n
  // rows of y (out: cross(0, m0)).
  auto cross_rows = [&](const float* y, int n, const float* v, int ld, int h, int count, float* out) {
    if (Ps == P) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, count, 2 * P, 1.f, y, 2 * P, v, ld, 0.f, out, M);
      return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, count, Ps, 1.f, y, 2 * P, v, ld, 0.f, out, M);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, count, Ps, 1.f, y + P, 2 * P,
                v + static_cast<std::size_t>(h) * ld, ld, 1.f, out, M);
  };
  if (!forced) {
    // sum_p G |V_m|^2 of references m0 .. m0 + count - 1 (one class) from their columns `v` (2 h rows
    // of stride ld: h real parts, then h imaginary; h = P, or the table's pixels), in blocks of
    // kReferenceBlock (|V_m|^2 of a block is small; of all it is not).
    // With fewer scored pixels (Ps < P) both take only the first Ps of the real and imaginary rows.
    auto norm_block = [&](const float* v, int ld, int h, int m0, int count) {
      ws->norm2.resize(static_cast<std::size_t>(Ps) * count);
      for (int p = 0; p < Ps; ++p)
        for (int j = 0; j < count; ++j) {
          const float re = v[static_cast<std::size_t>(p) * ld + j];
          const float im = v[static_cast<std::size_t>(h + p) * ld + j];
          ws->norm2[static_cast<std::size_t>(p) * count + j] = re * re + im * im;
        }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nc, count, Ps, 1.f, ws->g.data(), P, ws->norm2.data(),
                  count, 0.f, ws->norm.data() + m0, M);
    };
    // The chunk's: 3D per particle, 2D all rows at once.
    auto cross_block = [&](const float* v, int ld, int h, int m0, int count) {
      if (!s.compact_sums) {
        cross_rows(ws->y.data(), rows, v, ld, h, count, ws->cross.data() + m0);
        return;
      }
      for (int i = 0; i < nc; ++i)
        cross_rows(ws->y.data() + static_cast<std::size_t>(i) * T * 2 * P, T, v, ld, h, count,
                   ws->cross.data() + static_cast<std::size_t>(i) * T * M + m0);
    };
    if (ReferencesMadeOnDemand(s)) {
      // References made block by block: each block's cross terms and norms, then the next block.
      ws->refs.resize(static_cast<std::size_t>(2) * P * std::min(kReferenceBlock, npsi));
      for (int k = 0; k < K; ++k)
        for (int j0 = 0; j0 < npsi; j0 += kReferenceBlock) {
          const int m0 = k * npsi + j0, count = std::min(kReferenceBlock, npsi - j0);
          s.ref_block(s, m0, count, ws->refs.data());
          cross_block(ws->refs.data(), count, P, m0, count);
          norm_block(ws->refs.data(), count, P, m0, count);
        }
    } else if (s.compact_sums) {
      // 3D: in the blocks of one class that references made on demand come in (the same cross
      // terms, bit for bit, whether the references are tabulated or not: OpenBLAS's sums depend
      // on the block's width). One particle at a time, its cross terms are made in its loop below.
      for (int k = 0; k < K; ++k)
        for (int j0 = 0; j0 < npsi; j0 += kReferenceBlock) {
          const int m0 = k * npsi + j0, count = std::min(kReferenceBlock, npsi - j0);
          if (!per_particle) cross_block(s.ref_ri.data() + m0, M, Pt, m0, count);
          norm_block(s.ref_ri.data() + m0, M, Pt, m0, count);
        }
    } else {
      // In blocks of ~128 references: the same sums, and OpenBLAS packs (and keeps touched) only a
      // 2P x 128 panel of the references instead of all M columns.
      const int block = std::max(1, 128 / npsi) * npsi;
      for (int m0 = 0; m0 < M; m0 += block) cross_block(s.ref_ri.data() + m0, M, Pt, m0, std::min(block, M - m0));
      for (int k = 0; k < K; ++k)
        for (int j0 = 0; j0 < npsi; j0 += kReferenceBlock) {
          const int m0 = k * npsi + j0;
          norm_block(s.ref_ri.data() + m0, M, Pt, m0, std::min(kReferenceBlock, npsi - j0));
        }
    }
  }
  // Weights per particle, written over its cross terms once they are used, or kept sparse.
  if (forced) std::fill(ws->cross.begin(), ws->cross.end(), 0.f);
  float* const wt = ws->cross.data();
  // Sparse: weights in the order of i, m, t; weight_start counts them per (i, m) until the end.
  auto keep = [&](int i, int t, int m, float v) {
    ws->weight_row.push_back(i * T + t);
    ws->weight.push_back(v);
    ++ws->weight_start[static_cast<std::size_t>(i) * M + m + 1];
  };
  ws->wsum.assign(static_cast<std::size_t>(nc) * M, 0.f);
  results->assign(nc, ParticleResult());
  sums->class_weight.assign(K, 0.0);
  sums->psi_var.assign(K, 0.0);
  sums->offset_var.assign(K, 0.0);
  sums->count.assign(K, 0.0);
  sums->offset2 = sums->loglik = sums->pmax = sums->weight_total = 0;
  const double s2off = s.sigma_offset_px * s.sigma_offset_px;
  // Orientation priors normalised over the set (a flat prior gives -log(npsi) each).
  double lp_max = -std::numeric_limits<double>::infinity(), lp_sum = 0;
  for (double v : s.orient.log_prior) lp_max = std::max(lp_max, v);
  for (double v : s.orient.log_prior) lp_sum += std::exp(v - lp_max);
  const double lp_norm = lp_max + std::log(lp_sum);
  std::vector<double> log_pt(T);
  for (int i = 0; i < nc; ++i) {
    ParticleResult& r = (*results)[i];
    if (forced) {
      const int m = (*forced)[i];
      if (sparse) {
        keep(i, 0, m, 1.f);  // t = 0 is the first grid point only if T == 1
      } else {
        wt[static_cast<std::size_t>(i * T) * M + m] = 1.f;
      }
      ws->wsum[static_cast<std::size_t>(i) * M + m] = 1.f;
      r.class_index = m / npsi;
      SetAngles(s.orient, m % npsi, &r);
      r.offset_x = offsets[i].x;
      r.offset_y = offsets[i].y;
      r.pmax = 1;
      r.nsig = 1;
      sums->class_weight[r.class_index] += 1;
      sums->weight_total += 1;
      sums->offset2 += offsets[i].x * offsets[i].x + offsets[i].y * offsets[i].y;
      continue;
    }
    // The particle's rows: its cross terms (T x M), overwritten in place by its weights.
    float* const cross_i = per_particle ? ws->cross.data() : &ws->cross[static_cast<std::size_t>(i) * T * M];
    // Sparse (3D): a particle scored against one class only (only_class) takes only its references;
    // the other samples, of prior 0, would get no weight (and the same threshold: zeros do not count).
    const int only = parts[i].only_class;
    const int m_lo = sparse && only >= 0 ? only * npsi : 0, m_hi = sparse && only >= 0 ? m_lo + npsi : M;
    if (per_particle)
      for (int k = m_lo / npsi; k < m_hi / npsi; ++k)
        for (int j0 = 0; j0 < npsi; j0 += kReferenceBlock) {
          const int m0 = k * npsi + j0;
          cross_rows(ws->y.data() + static_cast<std::size_t>(i) * T * 2 * P, T, s.ref_ri.data() + m0, M, Pt,
                     std::min(kReferenceBlock, npsi - j0), cross_i + m0);
        }
    if (s.cross_correlation) {
      // RELION's --firstiter_cc: the sample of largest normalised cross-correlation gets all weight.
      double best_cc = -std::numeric_limits<double>::infinity();
      int best = 0;
      for (int m = 0; m < M; ++m) {
        if (only >= 0 && m / npsi != only) continue;
        const double a2 = 2.0 * ws->norm[static_cast<std::size_t>(i) * M + m];
        if (!(a2 > 0)) continue;
        const double inv = 1.0 / std::sqrt(a2);
        for (int t = 0; t < T; ++t) {
          if (!s.sample_mask.empty() && !s.sample_mask[static_cast<std::size_t>(t) * npsi + m % npsi]) continue;
          const double cc = cross_i[static_cast<std::size_t>(t) * M + m] * inv;
          if (cc > best_cc) best_cc = cc, best = m * T + t;
        }
      }
      const int bm = best / T, bt = best % T;
      if (sparse) {
        keep(i, bt, bm, 1.f);
      } else {
        std::fill(cross_i, cross_i + static_cast<std::size_t>(T) * M, 0.f);
        cross_i[static_cast<std::size_t>(bt) * M + bm] = 1.f;
      }
      ws->wsum[static_cast<std::size_t>(i) * M + bm] = 1.f;
      r.class_index = bm / npsi;
      SetAngles(s.orient, bm % npsi, &r);
      r.offset_x = offsets[i].x + s.trans[bt].x;
      r.offset_y = offsets[i].y + s.trans[bt].y;
      r.pmax = 1;
      r.nsig = 1;
      r.loglik = std::isfinite(best_cc) && xnorm[i] > 0 ? best_cc / std::sqrt(2.0 * xnorm[i]) : 0.0;
      sums->class_weight[r.class_index] += 1;
      sums->weight_total += 1;
      sums->offset2 += r.offset_x * r.offset_x + r.offset_y * r.offset_y;
      sums->loglik += r.loglik;
      sums->pmax += 1;
      sums->count[r.class_index] += 1;
      continue;
    }
    // Offset prior, normalised over the grid.
    double lmax_t = -std::numeric_limits<double>::infinity();
    for (int t = 0; t < T; ++t) {
      const double ox = offsets[i].x + s.trans[t].x, oy = offsets[i].y + s.trans[t].y;
      log_pt[t] = -(ox * ox + oy * oy) / (2 * s2off);
      lmax_t = std::max(lmax_t, log_pt[t]);
    }
    double zt = 0;
    for (int t = 0; t < T; ++t) zt += std::exp(log_pt[t] - lmax_t);
    for (int t = 0; t < T; ++t) log_pt[t] -= lmax_t + std::log(zt);
    // The log-posterior of sample (m, t), from the particle's cross terms (not stored: computed
    // once for the maximum, once for the sum and once for the weights, so a thread holds no
    // double per sample).
    std::vector<double>& base = ws->lp;  // per reference: prior and norm terms
    base.resize(M);
    for (int m = m_lo; m < m_hi; ++m) {
      const double prior_m = only >= 0 && m / npsi != only
                                 ? -std::numeric_limits<double>::infinity()
                                 : s.log_pk[m / npsi] + (s.orient.log_prior[m % npsi] - lp_norm);
      base[m] = prior_m - xnorm[i] - ws->norm[static_cast<std::size_t>(i) * M + m];
    }
    auto each_sample = [&](auto f) {  // f(j = m * T + t, log-posterior), j ascending
      for (int m = m_lo; m < m_hi; ++m) {
        const char* mask = s.sample_mask.empty() ? nullptr : &s.sample_mask[m % npsi];
        for (int t = 0; t < T; ++t)
          f(static_cast<std::size_t>(m) * T + t,
            mask && !mask[static_cast<std::size_t>(t) * npsi]
                ? -std::numeric_limits<double>::infinity()
                : base[m] + log_pt[t] + cross_i[static_cast<std::size_t>(t) * M + m]);
      }
    };
    double lmax = -std::numeric_limits<double>::infinity();
    int best = 0;
    each_sample([&](std::size_t j, double v) {
      if (v > lmax) lmax = v, best = static_cast<int>(j);
    });
    // 3D skips the samples below e^-60 of the best: their weights are far below any significance
    // threshold.
    const double cutoff = s.compact_sums ? -60.0 : -std::numeric_limits<double>::infinity();
    auto weight = [&](double v) {
      const double x = v - lmax;
      return x < cutoff ? 0.0 : std::exp(x);
    };
    double z = 0;
    each_sample([&](std::size_t, double v) { z += weight(v); });
    const double inv_z = 1.0 / z;
    // Each sample's weight where its cross term was (read just before), in the same order.
    auto at = [&](std::size_t j) -> float& { return cross_i[(j % T) * M + j / T]; };
    each_sample([&](std::size_t j, double v) { at(j) = static_cast<float>(weight(v) * inv_z); });
    const std::size_t samples = static_cast<std::size_t>(M) * T;
    const float thr = SignificanceThreshold(
        samples,
        [&](auto f) {
          for (std::size_t j = static_cast<std::size_t>(m_lo) * T; j < static_cast<std::size_t>(m_hi) * T; ++j)
            f(at(j));
        },
        s.adaptive_fraction, &ws->order);
    const int bm = best / T, bt = best % T;
    r.class_index = bm / npsi;
    SetAngles(s.orient, bm % npsi, &r);
    r.offset_x = offsets[i].x + s.trans[bt].x;
    r.offset_y = offsets[i].y + s.trans[bt].y;
    r.pmax = at(best);
    if (sparse) {
      // Room for exactly the significant weights: broad posteriors have ~10^5 per particle.
      std::size_t kept = 0;
      for (int t = 0; t < T; ++t)
        for (int m = m_lo; m < m_hi; ++m) {
          const float v = cross_i[static_cast<std::size_t>(t) * M + m];
          kept += v >= thr && v > 0;
        }
      ws->weight_row.reserve(ws->weight_row.size() + kept);
      ws->weight.reserve(ws->weight.size() + kept);
    }
    r.loglik = lmax + std::log(z) + s.log_norm_const;
    double wtot = 0, pv = 0, ov = 0;
    int nsig = 0;
    for (int m = m_lo; m < m_hi; ++m) {
      float* wsm = &ws->wsum[static_cast<std::size_t>(i) * M + m];
      for (int t = 0; t < T; ++t) {
        float& cell = at(static_cast<std::size_t>(m) * T + t);  // wt's (i, t, m): the significant weights stay
        const float v = cell;
        if (v < thr || v <= 0) {
          if (!sparse) cell = 0;  // dense: only the significant weights stay
          continue;
        }
        if (sparse) keep(i, t, m, v);
        ++nsig;
        *wsm += v;
        wtot += v;
        const double ox = offsets[i].x + s.trans[t].x, oy = offsets[i].y + s.trans[t].y;
        sums->offset2 += v * (ox * ox + oy * oy);
        sums->class_weight[m / npsi] += v;
        if (m / npsi == r.class_index) {
          const double da = AngularDistance(s.orient, m % npsi, r.orientation);
          pv += v * da * da;
          ov += v * ((ox - r.offset_x) * (ox - r.offset_x) + (oy - r.offset_y) * (oy - r.offset_y));
        }
      }
    }
    r.nsig = nsig;
    r.psi_var = pv / wtot;
    r.offset_var = ov / wtot;
    sums->weight_total += wtot;
    sums->loglik += r.loglik;
    sums->pmax += r.pmax;
    sums->psi_var[r.class_index] += r.psi_var;
    sums->offset_var[r.class_index] += r.offset_var;
    sums->count[r.class_index] += 1;
  }
  ws->sparse = sparse;
  if (sparse) {
    for (std::size_t im = 0; im + 1 < ws->weight_start.size(); ++im) ws->weight_start[im + 1] += ws->weight_start[im];
  } else {
    ws->wt.swap(ws->cross);
  }
  if (forced) {
    for (int i = 0; i < nc; ++i) sums->count[(*results)[i].class_index] += 1;
  }
  ws->nc = nc;
  ws->rows = rows;
  ws->forced = forced != nullptr;
  ws->res_cross.assign(nc, 0.0);
  ws->res_a2.assign(nc, 0.0);
  ws->res_xa.assign(nc, 0.0);
  ws->res_aa.assign(nc, 0.0);
  sums->active.assign(K, 0);
  for (int i = 0; i < nc; ++i)
    for (int m = 0; m < M; ++m)
      if (ws->wsum[static_cast<std::size_t>(i) * M + m] > 0) sums->active[m / npsi] = 1;
  // Noise spectrum: sum_w |X_t - CTF V|^2 = sum_i (sum w)|X_i|^2 - 2 Re(s2 D conj V) + s2 W |V|^2 per
  // pixel; the first term here, the others per class in ClassChunkSums.
  sums->sigma2_num.assign(nshell, 0.0);
  for (int i = 0; i < nc; ++i) {
    double wi = 0;
    for (int m = 0; m < M; ++m) wi += ws->wsum[static_cast<std::size_t>(i) * M + m];
    for (int p = 0; p < P; ++p) sums->sigma2_num[s.px.shell[p]] += wi * std::norm(parts[i].x[p]);
  }
}

namespace {

// d (npsi x 2P) = sum over the chunk's rows of w(row, m) Y(row) for class k's references.
void ChunkClassSums(const EStepSetup& s, int k, const EStepWorkspace& ws, std::vector<float>* d) {
  const int P = s.px.size(), M = s.num_refs(), npsi = s.num_orient();
  const int rows = ws.rows, m0 = k * npsi;
  EMKIT_CHECK(!ws.sparse, "dense class sums from sparse weights");
  // Sparse weights (the usual case once the posteriors are sharp): add the rows directly, in a
  // fixed order; dense weights: one GEMM. The choice depends only on the chunk.
  std::size_t nnz = 0;
  for (int row = 0; row < rows; ++row)
    for (int j = 0; j < npsi; ++j) nnz += ws.wt[static_cast<std::size_t>(row) * M + m0 + j] > 0;
  if (nnz * 8 < static_cast<std::size_t>(npsi) * rows) {
    for (int row = 0; row < rows; ++row) {
      const float* wr = &ws.wt[static_cast<std::size_t>(row) * M + m0];
      const float* yr = &ws.y[static_cast<std::size_t>(row) * 2 * P];
      for (int j = 0; j < npsi; ++j) {
        if (wr[j] <= 0) continue;
        float* dm = &(*d)[static_cast<std::size_t>(j) * 2 * P];
        const float v = wr[j];
        for (int p = 0; p < 2 * P; ++p) dm[p] += v * yr[p];
      }
    }
  } else {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, npsi, 2 * P, rows, 1.f, ws.wt.data() + m0, M, ws.y.data(),
                2 * P, 0.f, d->data(), 2 * P);
  }
}

// As ChunkClassSums, one particle at a time, keeping each particle's share for RELION's norm and
// scale corrections: sum_w Re(X_t conj(CTF V)) = sum_p s2 Re(D conj V) and sum_w |CTF V|^2 (all
// pixels, and the pixels of shells where class k's data_vs_prior > 3).
// References made on demand (EStepSetup::ref_block) come block by block, each pixel's sums running
// over the blocks in the order of the orientations, as over ref_ri's columns: the same sums.
void ParticleClassSums(const EStepSetup& s, int k, EStepWorkspace& ws, std::vector<float>* d) {
  const int P = s.px.size(), M = s.num_refs(), npsi = s.num_orient();
  const int T = static_cast<int>(s.trans.size()), m0 = k * npsi, nshell = s.px.n / 2 + 1;
  const char* mask = s.scale_shell.empty() ? nullptr : &s.scale_shell[static_cast<std::size_t>(k) * nshell];
  std::vector<float>& di = ws.di;
  EMKIT_CHECK(!ws.sparse, "per-particle class sums from sparse weights");
  di.resize(static_cast<std::size_t>(npsi) * 2 * P);
  for (int i = 0; i < ws.nc; ++i) {
    const float* wsum = &ws.wsum[static_cast<std::size_t>(i) * M + m0];
    if (std::all_of(wsum, wsum + npsi, [](float v) { return v <= 0; })) continue;
    const float* wt = &ws.wt[static_cast<std::size_t>(i) * T * M + m0];
    const float* y = &ws.y[static_cast<std::size_t>(i) * T * 2 * P];
    std::size_t nnz = 0;
    for (int t = 0; t < T; ++t)
      for (int j = 0; j < npsi; ++j) nnz += wt[static_cast<std::size_t>(t) * M + j] > 0;
    if (nnz * 8 < static_cast<std::size_t>(npsi) * T) {
      std::fill(di.begin(), di.end(), 0.f);
      for (int t = 0; t < T; ++t)
        for (int j = 0; j < npsi; ++j) {
          const float v = wt[static_cast<std::size_t>(t) * M + j];
          if (v <= 0) continue;
          float* dm = &di[static_cast<std::size_t>(j) * 2 * P];
          const float* yr = y + static_cast<std::size_t>(t) * 2 * P;
          for (int p = 0; p < 2 * P; ++p) dm[p] += v * yr[p];
        }
    } else {
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, npsi, 2 * P, T, 1.f, wt, M, y, 2 * P, 0.f, di.data(), 2 * P);
    }
    for (std::size_t q = 0; q < di.size(); ++q) (*d)[q] += di[q];
    const float* g2 = &ws.g2[static_cast<std::size_t>(i) * P];
    std::vector<double>& cps = ws.res_cp;
    std::vector<double>& aps = ws.res_ap;
    cps.assign(P, 0.0);
    aps.assign(P, 0.0);
    const bool made = ReferencesMadeOnDemand(s);
    EMKIT_CHECK(made || s.table_pixels() == P, "norm and scale sums need every pixel of the references tabulated");
    const int block = made ? kReferenceBlock : npsi;
    for (int j0 = 0; j0 < npsi; j0 += block) {
      const int count = std::min(block, npsi - j0);
      if (std::all_of(wsum + j0, wsum + j0 + count, [](float v) { return v <= 0; })) continue;
      const float* refs;
      std::size_t ld;
      if (made) {
        ws.refs.resize(static_cast<std::size_t>(2) * P * count);
        s.ref_block(s, m0 + j0, count, ws.refs.data());
        refs = ws.refs.data();
        ld = count;
      } else {
        refs = s.ref_ri.data() + m0 + j0;
        ld = M;
      }
      for (int p = 0; p < P; ++p) {
        const float* vr = &refs[static_cast<std::size_t>(p) * ld];
        const float* vi = &refs[static_cast<std::size_t>(P + p) * ld];
        double cp = cps[p], ap = aps[p];
        for (int c = 0; c < count; ++c) {
          const int j = j0 + c;
          if (wsum[j] <= 0) continue;
          const float* dj = &di[static_cast<std::size_t>(j) * 2 * P];
          cp += double(dj[p]) * vr[c] + double(dj[P + p]) * vi[c];
          ap += double(wsum[j]) * (double(vr[c]) * vr[c] + double(vi[c]) * vi[c]);
        }
        cps[p] = cp;
        aps[p] = ap;
      }
    }
    double cross = 0, a2 = 0, xa = 0, aa = 0;
    for (int p = 0; p < P; ++p) {
      const double s2 = 1.0 / s.inv_sigma2[p];
      const double cp = cps[p] * s2;
      const double ap = aps[p] * (s2 * g2[p]);
      cross += cp;
      a2 += ap;
      if (mask && mask[s.px.shell[p]]) xa += cp, aa += ap;
    }
    ws.res_cross[i] += cross;
    ws.res_a2[i] += a2;
    ws.res_xa[i] += xa;
    ws.res_aa[i] += aa;
  }
}

}  // namespace

namespace {

// Class k's orientations with weight in the chunk, ascending.
std::vector<int> ActiveOrientations(const EStepSetup& s, int k, const EStepWorkspace& ws) {
  const int M = s.num_refs(), npsi = s.num_orient(), m0 = k * npsi;
  std::vector<int> active;
  for (int j = 0; j < npsi; ++j) {
    bool any = false;
    for (int i = 0; i < ws.nc && !any; ++i) any = ws.wsum[static_cast<std::size_t>(i) * M + m0 + j] > 0;
    if (any) active.push_back(j);
  }
  return active;
}

// The compact sums of the orientations `rows` of class k from the sparse weights, each
// orientation's rows (i, t) added in their order.
void CompactClassSums(const EStepSetup& s, int k, const EStepWorkspace& ws, const std::vector<int>& rows,
                      std::vector<float>* d, std::vector<float>* w) {
  const int P = s.px.size(), M = s.num_refs(), npsi = s.num_orient(), m0 = k * npsi;
  const int na = static_cast<int>(rows.size());
  EMKIT_CHECK(ws.sparse, "compact sums need the sparse weights");
  d->assign(static_cast<std::size_t>(na) * 2 * P, 0.f);
  w->assign(static_cast<std::size_t>(na) * P, 0.f);
  for (int a = 0; a < na; ++a) {
    const int m = m0 + rows[a];
    float* dm = &(*d)[static_cast<std::size_t>(a) * 2 * P];
    for (int i = 0; i < ws.nc; ++i)
      for (int e = ws.weight_start[static_cast<std::size_t>(i) * M + m];
           e < ws.weight_start[static_cast<std::size_t>(i) * M + m + 1]; ++e) {
        const float v = ws.weight[e];
        const float* yr = &ws.y[static_cast<std::size_t>(ws.weight_row[e]) * 2 * P];
        for (int p = 0; p < 2 * P; ++p) dm[p] += v * yr[p];
      }
  }
  for (int i = 0; i < ws.nc; ++i) {
    const float* g2 = &ws.g2[static_cast<std::size_t>(i) * P];
    for (int a = 0; a < na; ++a) {
      const float v = ws.wsum[static_cast<std::size_t>(i) * M + m0 + rows[a]];
      if (v <= 0) continue;
      float* wm = &(*w)[static_cast<std::size_t>(a) * P];
      for (int p = 0; p < P; ++p) wm[p] += v * g2[p];
    }
  }
}

// Class k's reference terms of the noise sums for the orientations `rows` (d, w: their sums).
// (References made on demand, or tabulated only at the scored pixels, are made again here, one at
// a time: only those with weight.)
void AddReferenceNoiseTerms(const EStepSetup& s, int k, EStepWorkspace& ws, const std::vector<float>& d,
                            const std::vector<float>& w, const std::vector<int>& rows, ChunkSums* sums) {
  const int P = s.px.size(), M = s.num_refs(), m0 = k * s.num_orient();
  const bool made = ReferencesMadeOnDemand(s) || s.table_pixels() < P;
  for (std::size_t a = 0; a < rows.size(); ++a) {
    const int m = m0 + rows[a];
    // No particle of the chunk has weight here: its d and w rows are zero and add nothing.
    bool any = false;
    for (int i = 0; i < ws.nc && !any; ++i) any = ws.wsum[static_cast<std::size_t>(i) * M + m] > 0;
    if (!any) continue;
    const float* dm = &d[a * 2 * P];
    const float* wm = &w[a * P];
    const float* v = s.ref_ri.data() + m;
    std::size_t ld = M;
    if (made) {
      ws.refs.resize(static_cast<std::size_t>(2) * P);
      FullReference(s, m, ws.refs.data(), &ws.rest);
      v = ws.refs.data();
      ld = 1;
    }
    for (int p = 0; p < P; ++p) {
      const double vr = v[static_cast<std::size_t>(p) * ld];
      const double vi = v[static_cast<std::size_t>(P + p) * ld];
      const double s2 = 1.0 / s.inv_sigma2[p];
      sums->sigma2_num[s.px.shell[p]] += s2 * (-2.0 * (dm[p] * vr + dm[P + p] * vi) + wm[p] * (vr * vr + vi * vi));
    }
  }
}

}  // namespace

bool ClassChunkSums(const EStepSetup& s, int k, EStepWorkspace& ws, ChunkSums* sums, std::vector<float>* d,
                    std::vector<float>* w, std::vector<int>* rows, const ClassSumsSink& add) {
  if (!sums->active[k]) return false;
  const int P = s.px.size(), M = s.num_refs(), npsi = s.num_orient();
  const int m0 = k * npsi;
  const bool residual_sums = !ws.forced && (s.norm_sums || !s.scale_shell.empty());
  EMKIT_CHECK(ws.sparse == SparseWeights(s, ws.forced), "the E-step's weights are not those of its setup");
  if (ws.sparse) {
    // In blocks of orientations: a block's sums are all a thread holds at a time.
    const std::vector<int> active = ActiveOrientations(s, k, ws);
    for (std::size_t b0 = 0; b0 < active.size(); b0 += kCompactSumsBlock) {
      rows->assign(active.begin() + b0, active.begin() + std::min(active.size(), b0 + kCompactSumsBlock));
      CompactClassSums(s, k, ws, *rows, d, w);
      if (!ws.forced) AddReferenceNoiseTerms(s, k, ws, *d, *w, *rows, sums);
      add(*d, *w, *rows);
    }
    return true;
  }
  rows->resize(npsi);
  for (int j = 0; j < npsi; ++j) (*rows)[j] = j;
  d->assign(static_cast<std::size_t>(npsi) * 2 * P, 0.f);
  w->resize(static_cast<std::size_t>(npsi) * P);
  if (residual_sums) {
    ParticleClassSums(s, k, ws, d);
  } else {
    ChunkClassSums(s, k, ws, d);
  }
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, npsi, P, ws.nc, 1.f, ws.wsum.data() + m0, M, ws.g2.data(), P,
              0.f, w->data(), P);
  if (!ws.forced) AddReferenceNoiseTerms(s, k, ws, *d, *w, *rows, sums);
  add(*d, *w, *rows);
  return true;
}

bool ClassChunkSums(const EStepSetup& s, int k, EStepWorkspace& ws, ChunkSums* sums, std::vector<float>* d,
                    std::vector<float>* w, std::vector<int>* rows) {
  std::vector<float> all_d, all_w;
  std::vector<int> all_rows;
  const bool any =
      ClassChunkSums(s, k, ws, sums, d, w, rows,
                     [&](const std::vector<float>& bd, const std::vector<float>& bw, const std::vector<int>& br) {
                       all_d.insert(all_d.end(), bd.begin(), bd.end());
                       all_w.insert(all_w.end(), bw.begin(), bw.end());
                       all_rows.insert(all_rows.end(), br.begin(), br.end());
                     });
  if (any) {
    *d = std::move(all_d);
    *w = std::move(all_w);
    *rows = std::move(all_rows);
  }
  return any;
}

}  // namespace emkit

namespace emkit {

void FinishResidualSums(const EStepSetup& s, const std::vector<PreparedParticle>& parts, const EStepWorkspace& ws,
                        std::vector<ParticleResult>* results) {
  if (ws.forced || !(s.norm_sums || !s.scale_shell.empty())) return;
  const int P = s.px.size(), M = s.num_refs();
  for (int i = 0; i < ws.nc; ++i) {
    double wi = 0;
    for (int m = 0; m < M; ++m) wi += ws.wsum[static_cast<std::size_t>(i) * M + m];
    if (wi <= 0) continue;
    double x2 = 0;
    for (int p = 0; p < P; ++p) x2 += std::norm(parts[i].x[p]);
    // Per unit weight, as RELION's weights of a particle add up to 1.
    ParticleResult& r = (*results)[i];
    r.norm_residual = (wi * x2 - 2 * ws.res_cross[i] + ws.res_a2[i]) / wi + parts[i].highres_power;
    r.scale_xa = ws.res_xa[i] / wi;
    r.scale_aa = ws.res_aa[i] / wi;
  }
}

}  // namespace emkit
