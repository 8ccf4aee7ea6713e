// The references of the E-step (EStepSetup::ref_ri or ref_block, declared in refine/estep2d.h):
// in-plane rotations of 2D class averages, central sections of 3D maps (all tabulated, or within
// a memory budget with the rest projected on demand).
#include <algorithm>
#include <cmath>
#include <memory>

#include "core/error.h"
#include "refine/estep2d.h"

namespace emkit {

Complex SampleRotated(const FourierGrid& ref, double a00, double a01, double a10, double a11, int kx, int ky,
                      double scale) {
  const int n = ref.logical_nx();
  auto at = [&](int x, int y) -> Complex {
    const bool conjugate = x < 0;
    if (conjugate) x = -x, y = -y;
    if (x > n / 2 || y >= n / 2 || y < -n / 2) return Complex(0, 0);
    return conjugate ? std::conj(ref.At(x, y)) : ref.At(x, y);
  };
  const double sx = scale * (a00 * kx + a10 * ky), sy = scale * (a01 * kx + a11 * ky);
  const int x0 = static_cast<int>(std::floor(sx)), y0 = static_cast<int>(std::floor(sy));
  const float fx = static_cast<float>(sx - x0), fy = static_cast<float>(sy - y0);
  return (1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x0 + 1, y0)) +
         fy * ((1 - fx) * at(x0, y0 + 1) + fx * at(x0 + 1, y0 + 1));
}

void PutReferenceColumn(const Complex* v, int P, int count, int c, float* out) {
  for (int p = 0; p < P; ++p) {
    out[static_cast<std::size_t>(p) * count + c] = v[p].real();
    out[static_cast<std::size_t>(P + p) * count + c] = v[p].imag();
  }
}

void PutReferenceColumn(const float* ri, int P, int count, int c, float* out) {
  for (int p = 0; p < 2 * P; ++p) out[static_cast<std::size_t>(p) * count + c] = ri[p];
}

void SetReferences(const std::vector<FourierGrid>& refs, EStepSetup* s) {
  const int P = s->px.size(), npsi = s->num_orient(), M = s->num_refs();
  s->ref_ri.assign(static_cast<std::size_t>(2) * P * M, 0.f);
  for (int k = 0; k < s->classes; ++k)
    for (int ip = 0; ip < npsi; ++ip) {
      const Mat3& a = s->orient.matrices[ip];
      const int m = k * npsi + ip;
      for (int p = 0; p < P; ++p) {
        const Complex v = SampleRotated(refs[k], a(0, 0), a(0, 1), a(1, 0), a(1, 1), s->px.kx[p], s->px.ky[p], s->pad);
        s->ref_ri[static_cast<std::size_t>(p) * M + m] = v.real();
        s->ref_ri[static_cast<std::size_t>(P + p) * M + m] = v.imag();
      }
    }
}

namespace {

// ref_ri = the first `pixels` pixels of every reference (pixels rows of real parts, then imaginary).
void TabulateReferences(const std::vector<const Projector*>& maps, int pixels, EStepSetup* s) {
  EMKIT_CHECK(static_cast<int>(maps.size()) == s->classes, "one projector per class");
  const int nor = s->num_orient(), M = s->num_refs();
  EMKIT_CHECK(nor > 0, "no orientations to project");
  s->ref_rest = nullptr;
  s->ref_ri.assign(static_cast<std::size_t>(2) * pixels * M, 0.f);
  std::vector<Complex> section(pixels);
  for (int k = 0; k < s->classes; ++k)
    for (int j = 0; j < nor; ++j) {
      maps[k]->SliceAt(s->orient.matrices[j], s->px.n, s->px.kx.data(), s->px.ky.data(), pixels, section.data());
      PutReferenceColumn(section.data(), pixels, M, k * nor + j, s->ref_ri.data());
    }
}

}  // namespace

void SetProjectedReferences(const std::vector<const Projector*>& maps, EStepSetup* s) {
  TabulateReferences(maps, s->px.size(), s);
}

void SetProjectedReferences(const std::vector<const Projector*>& maps, EStepSetup* s, std::size_t budget_bytes) {
  const int P = s->px.size(), nor = s->num_orient(), K = s->classes, M = s->num_refs();
  if (static_cast<std::size_t>(2) * P * sizeof(float) * M <= budget_bytes) {
    SetProjectedReferences(maps, s);
    return;
  }
  // When every pixel does not fit: only the scored pixels, if the rest is needed just for the sums of
  // the orientations with weight (compact sums; norm and scale sums take every reference of a
  // particle's blocks) and they fit.
  const bool scored_only = SparseWeights(*s, false) && s->score_pixels > 0 && s->score_pixels < P;
  if (scored_only && static_cast<std::size_t>(2) * s->score_pixels * sizeof(float) * M <= budget_bytes) {
    TabulateReferences(maps, s->score_pixels, s);
    s->ref_rest = [maps](const EStepSetup& e, int m, Complex* out) {
      const int nor = e.num_orient(), first = e.table_pixels();
      maps[m / nor]->SliceAt(e.orient.matrices[m % nor], e.px.n, e.px.kx.data() + first, e.px.ky.data() + first,
                             e.px.size() - first, out);
    };
    return;
  }
  const std::size_t column = static_cast<std::size_t>(2) * P;  // floats of one reference
  EMKIT_CHECK(static_cast<int>(maps.size()) == K, "one projector per class");
  EMKIT_CHECK(nor > 0, "no orientations to project");
  // The first `kept` orientations of every class tabulated (as many as fit), the others projected
  // each time the E-step asks for them: the same SliceAt on the same matrices, so the same values.
  const int kept = static_cast<int>(std::min<std::size_t>(nor, budget_bytes / (column * sizeof(float) * K)));
  auto table = std::make_shared<std::vector<float>>(column * K * kept);
  std::vector<Complex> section(P);
  for (int k = 0; k < K; ++k)
    for (int j = 0; j < kept; ++j) {
      maps[k]->SliceAt(s->orient.matrices[j], s->px.n, s->px.kx.data(), s->px.ky.data(), P, section.data());
      PutReferenceColumn(section.data(), P, 1, 0, &(*table)[(static_cast<std::size_t>(k) * kept + j) * column]);
    }
  s->ref_ri.clear();
  s->ref_rest = nullptr;
  s->ref_block = [maps, table, kept](const EStepSetup& e, int m0, int count, float* out) {
    const int P = e.px.size(), nor = e.num_orient();
    std::vector<Complex> section(P);
    for (int c = 0; c < count; ++c) {
      const int m = m0 + c, k = m / nor, j = m % nor;
      if (j < kept) {
        PutReferenceColumn(&(*table)[(static_cast<std::size_t>(k) * kept + j) * 2 * P], P, count, c, out);
        continue;
      }
      maps[k]->SliceAt(e.orient.matrices[j], e.px.n, e.px.kx.data(), e.px.ky.data(), P, section.data());
      PutReferenceColumn(section.data(), P, count, c, out);
    }
  };
}

void FullReference(const EStepSetup& s, int m, float* out, std::vector<Complex>* rest) {
  if (ReferencesMadeOnDemand(s)) {
    s.ref_block(s, m, 1, out);
    return;
  }
  const int P = s.px.size(), M = s.num_refs(), Pt = s.table_pixels();
  for (int p = 0; p < Pt; ++p) {
    out[p] = s.ref_ri[static_cast<std::size_t>(p) * M + m];
    out[P + p] = s.ref_ri[static_cast<std::size_t>(Pt + p) * M + m];
  }
  if (Pt == P) return;
  rest->resize(P - Pt);
  s.ref_rest(s, m, rest->data());
  for (int p = Pt; p < P; ++p) {
    out[p] = (*rest)[p - Pt].real();
    out[P + p] = (*rest)[p - Pt].imag();
  }
}

std::vector<float> AllReferences(const EStepSetup& s) {
  const int P = s.px.size(), npsi = s.num_orient(), M = s.num_refs();
  if (s.ref_rest && !ReferencesMadeOnDemand(s)) {
    std::vector<float> all(static_cast<std::size_t>(2) * P * M), column(2 * P);
    std::vector<Complex> rest;
    for (int m = 0; m < M; ++m) {
      FullReference(s, m, column.data(), &rest);
      PutReferenceColumn(column.data(), P, M, m, all.data());
    }
    return all;
  }
  if (!ReferencesMadeOnDemand(s)) return s.ref_ri;
  std::vector<float> all(static_cast<std::size_t>(2) * P * M), block;
  for (int k = 0; k < s.classes; ++k)
    for (int j0 = 0; j0 < npsi; j0 += kReferenceBlock) {
      const int m0 = k * npsi + j0, count = std::min(kReferenceBlock, npsi - j0);
      block.resize(static_cast<std::size_t>(2) * P * count);
      s.ref_block(s, m0, count, block.data());
      for (int r = 0; r < 2 * P; ++r)
        std::copy(&block[static_cast<std::size_t>(r) * count], &block[static_cast<std::size_t>(r + 1) * count],
                  &all[static_cast<std::size_t>(r) * M + m0]);
    }
  return all;
}

}  // namespace emkit
