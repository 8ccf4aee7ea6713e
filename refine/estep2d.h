// The E-step kernel of 2D classification for one fixed block ("chunk") of particles.
// For every particle, every reference m = (class k, psi) and every translation t:
//   D2(m,t) = sum_p |X_t(p) - CTF(p) V_m(p)|^2 / (2 sigma2(p))
//           = |X|^2/2s2 + sum CTF^2 |V_m|^2 / 2s2  -  Re sum X_t conj(CTF V_m) / s2.
// The last (cross) term for all (particle, t) x all m is ONE matrix product (sgemm) of
// [Re|Im] (CTF X_t / s2) by [Re;Im] V; the second term is another. Weights are the exact
// softmax over all samples (with priors); significant samples (cumulative adaptive_fraction)
// are kept and the weighted sums for the M-step are again two matrix products.
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include "core/projector.h"
#include "refine/orientations.h"
#include "refine/particle_prep.h"
#include "refine/sampling2d.h"

namespace emkit {

// Read-only state of one iteration, shared by all threads.
struct EStepSetup {
  FourierPixels px;
  int classes = 0;
  int pad = 1;                     // oversampling of the reference grids (and of the M-step sums)
  OrientationSet orient;           // in-plane (2D) or 3D orientations, with log-priors
  std::vector<Translation> trans;  // grid around each particle's current offset (px)
  int num_orient() const { return orient.size(); }
  int num_refs() const { return classes * num_orient(); }  // m = k * num_orient + j
  std::vector<float> ref_ri;  // 2P x M: Re V_m(p) in row p, Im V_m(p) in row P + p (empty: all zero)
  // Instead of ref_ri (then empty): writes references m0 .. m0 + count - 1 (of one class) to `out`
  // as ref_ri would hold them, 2P rows of `count`. The E-step then holds one block of references at
  // a time, not all of them (refine3d's children: thousands per particle).
  std::function<void(const EStepSetup& s, int m0, int count, float* out)> ref_block;
  // With a scoring limit (score_pixels) and ref_rest set, ref_ri holds only the scored pixels
  // (score_pixels rows of real parts, then as many of imaginary parts), which are all the
  // probabilities take; ref_rest makes reference m's other pixels (P - score_pixels values, in px's
  // order) for the sums of the orientations with weight. Unset: ref_ri holds every pixel.
  std::function<void(const EStepSetup& s, int m, Complex* out)> ref_rest;
  int table_pixels() const { return ref_rest ? score_pixels : px.size(); }  // ref_ri's rows per half
  // Optional (empty: every sample): T x num_orient, translation-major; 0 leaves sample (t, j) out
  // for every class (RELION's fine pass scores only the children of significant coarse samples).
  std::vector<char> sample_mask;
  std::vector<float> inv_sigma2;  // per pixel
  std::vector<double> log_pk;     // per class (-inf allowed)
  double sigma_offset_px = 10;
  double adaptive_fraction = 0.999;
  double log_norm_const = 0;  // sum_p -log(2 pi sigma2(p)) (Gaussian normalisation)
  // RELION's --strict_highres_exp: > 0, only the pixels p < score_pixels (those LimitScoring put
  // first) make the probabilities; the sums for the M-step (and the noise) take every pixel.
  int score_pixels = 0;
  std::vector<Complex> phase;  // T x P: exp(-2 pi i k.t / n)
  // RELION's --norm and --scale: per particle, the weighted residual power sum_w |X_t - CTF V_m|^2
  // (norm) and sum_w X_t.CTF V_m, sum_w |CTF V_m|^2 over the shells where class k's data_vs_prior
  // > 3 (scale_shell[k * (n/2+1) + shell] != 0; empty: no scale sums).
  bool norm_sums = false;
  // RELION's --firstiter_cc: instead of the likelihood, each particle's sample of largest
  // normalised cross-correlation Re sum X_t conj(CTF V) / s2 / |CTF V / s| gets all weight (a
  // reference not on the particles' greyscale still aligns them).
  bool cross_correlation = false;
  std::vector<char> scale_shell;
  // ClassChunkSums returns only the orientations with weight in the chunk (3D: thousands of
  // orientations, few of them significant); without it, all of them (2D).
  bool compact_sums = false;
};

struct ParticleResult {
  int class_index = 0;                // 0-based
  int orientation = 0;                // index into EStepSetup::orient of the best sample
  double rot = 0, tilt = 0, psi = 0;  // degrees
  double offset_x = 0, offset_y = 0;  // total offset (px) of the best sample
  double pmax = 0;
  int nsig = 0;
  double loglik = 0;
  double psi_var = 0, offset_var = 0;  // posterior angular / offset spread around the best sample (deg^2, px^2)
  // Per unit weight: sum_w |X_t - CTF V|^2 over the current size plus the image power beyond it
  // (norm), and the scale sums sum_w Re(X_t conj(CTF V)), sum_w |CTF V|^2 (see EStepSetup).
  double norm_residual = 0, scale_xa = 0, scale_aa = 0;
};

// Scalar sums of one chunk (the image sums are made per class by ClassChunkSums).
struct ChunkSums {
  std::vector<double> sigma2_num;    // per shell: sum_w |X_t - CTF V_m|^2 (times 1)
  std::vector<double> class_weight;  // per class
  double offset2 = 0;                // sum_w |total offset|^2 (px^2)
  double loglik = 0, pmax = 0;
  double weight_total = 0;
  std::vector<double> psi_var, offset_var, count;  // per class (of the best class)
  std::vector<char> active;                        // per class: any weight in this chunk
};

// The E-step's matrices for one chunk (reused between chunks by a thread): rows = (particle, t).
struct EStepWorkspace {
  int nc = 0, rows = 0;
  bool forced = false;
  std::vector<float> refs;    // a block of references (EStepSetup::ref_block)
  std::vector<Complex> rest;  // a reference's pixels beyond the table (EStepSetup::ref_rest)
  // wt: the chunk's significant weights, rows (i, t) x M, in the buffer that held its cross terms
  // (cross, empty between chunks); empty with sparse weights (below). wsum: per particle and
  // reference, the sum of its weights over the translations.
  std::vector<float> y, g, g2, cross, norm, norm2, wt, wsum;
  std::vector<double> lp;                                 // per reference of a particle: its prior and norm terms
  std::vector<float> order;                               // scratch of the significance threshold
  std::vector<float> di;                                  // one particle's class sums
  std::vector<double> res_cross, res_a2, res_xa, res_aa;  // per particle (norm and scale sums)
  std::vector<double> res_cp, res_ap;                     // per pixel, one particle's share of them
  // With sparse (SparseWeights): the chunk's significant weights, by particle i and reference m
  // instead of wt: weight[weight_start[i M + m] .. weight_start[i M + m + 1]), at rows weight_row
  // (i T + t), ascending. cross then holds one particle's cross terms (T x M) when the references
  // are tabulated (EStepSetup::ref_ri), not the chunk's.
  bool sparse = false;
  std::vector<int> weight_start, weight_row;
  std::vector<float> weight;
};

// Whether EStepChunk keeps the weights sparse (EStepWorkspace::sparse): 3D's compact sums, unless
// norm or scale sums need each particle's weights (not with forced weights, which have none).
// Sparse weights cost 8 bytes per significant sample: with broad posteriors (refine3d's first fine
// pass: ~10^7 samples per particle) more than dense ones, but their sums are made from them alone.
inline bool SparseWeights(const EStepSetup& s, bool forced) {
  return s.compact_sums && (forced || (!s.norm_sums && s.scale_shell.empty()));
}

// `offsets` are each particle's current offsets (px), already applied in `parts`.
// With `forced` (initial model), particle i gets all its weight on reference forced[i], t = 0.
void EStepChunk(const EStepSetup& s, const std::vector<PreparedParticle>& parts,
                const std::vector<Translation>& offsets, const std::vector<int>* forced,
                std::vector<ParticleResult>* results, ChunkSums* sums, EStepWorkspace* ws);

// Class k's weighted sums of the chunk in the particle frame of each of its references, from the
// weights EStepChunk left in `ws`: d (rows x 2P) = sum_w CTF X_t / s2 (Re | Im), w (rows x P) =
// sum_w CTF^2 / s2 for the orientations `rows` (all of them, or with s.compact_sums those with
// weight); adds class k's reference terms to sums->sigma2_num. Returns false (and leaves d, w
// alone) when no particle of the chunk has weight on class k.
// With norm or scale sums set up, it also adds each particle's share of them to ws.res_*.
bool ClassChunkSums(const EStepSetup& s, int k, EStepWorkspace& ws, ChunkSums* sums, std::vector<float>* d,
                    std::vector<float>* w, std::vector<int>* rows);
// The same, handing the sums to `add` as they are made: with s.compact_sums (and no norm or scale
// sums) in blocks of at most kCompactSumsBlock orientations, ascending, so that a thread holds one
// block's d and w, not those of every orientation with weight (3D: thousands); otherwise all at
// once. d, w and rows are the buffers, holding the last block afterwards.
using ClassSumsSink =
    std::function<void(const std::vector<float>& d, const std::vector<float>& w, const std::vector<int>& rows)>;
constexpr std::size_t kCompactSumsBlock = 256;
bool ClassChunkSums(const EStepSetup& s, int k, EStepWorkspace& ws, ChunkSums* sums, std::vector<float>* d,
                    std::vector<float>* w, std::vector<int>* rows, const ClassSumsSink& add);
// Calls f(row, weight) for each weight of reference m in the chunk's rows row_begin .. row_end - 1
// (row = i T + t), rows ascending, from ws's sparse or dense weights.
template <typename F>
void ForEachWeight(const EStepSetup& s, const EStepWorkspace& ws, int m, int row_begin, int row_end, F f) {
  const std::size_t M = static_cast<std::size_t>(s.num_refs());
  if (ws.sparse) {
    const int T = static_cast<int>(s.trans.size());
    for (int i = row_begin / T; i * T < row_end; ++i)
      for (int e = ws.weight_start[i * M + m]; e < ws.weight_start[i * M + m + 1]; ++e)
        if (ws.weight_row[e] >= row_begin && ws.weight_row[e] < row_end) f(ws.weight_row[e], ws.weight[e]);
    return;
  }
  for (int row = row_begin; row < row_end; ++row) {
    const float v = ws.wt[row * M + m];
    if (v > 0) f(row, v);
  }
}
// After ClassChunkSums of every class: the particles' norm_residual, scale_xa, scale_aa.
void FinishResidualSums(const EStepSetup& s, const std::vector<PreparedParticle>& parts, const EStepWorkspace& ws,
                        std::vector<ParticleResult>* results);

// The noise of the likelihood: inv_sigma2 per selected pixel and log_norm_const (over the scored
// pixels) from a spectrum per shell (non-positive values replaced by the smallest positive one, or 1).
void SetNoise(const std::vector<double>& sigma2_noise, EStepSetup* s);
// RELION's --strict_highres_exp: puts the pixels of *px below `resolution` (Å; radius
// ROUND(n x pixel size / resolution) Fourier pixels) first, in their order, and returns how many
// they are (EStepSetup::score_pixels); 0 (px unchanged) when the limit leaves none of px out.
int LimitScoring(double resolution, double pixel_size, FourierPixels* px);
// The image size of that limit in a box of n (RELION's 2 ROUND(n x pixel size / resolution)); 0
// without a limit (resolution <= 0).
int ScoringSize(double resolution, double pixel_size, int n);
// Whether pixel p of s makes the probabilities (see EStepSetup::score_pixels).
inline bool Scored(const EStepSetup& s, int p) { return s.score_pixels <= 0 || p < s.score_pixels; }
// phase (T x P) = exp(-2 pi i k.t / n) for s->trans at the selected pixels.
void SetTranslationPhases(EStepSetup* s);

// Builds ref_ri from 3D references: the central section of class k's map (its Projector, at the
// map's pixel size = the particles') in each orientation of s->orient, at the selected pixels.
void SetProjectedReferences(const std::vector<const Projector*>& maps, EStepSetup* s);
// The same within `budget_bytes`: when every reference does not fit, the first orientations of
// every class that do are tabulated and the others projected each time the E-step takes them
// (s->ref_block; `maps` must outlive s). The same values either way, so the same results; less
// memory for more time.
// Before that, with compact sums, a scoring limit and neither norm nor scale sums: when the scored
// pixels of every reference fit, only they are tabulated (ref_rest; `maps` must outlive
// s), and the others are projected for the orientations with weight in a chunk as their sums are
// made (3D classification's first iterations: ~1/4 of the table at 40 Å for +25% time).
void SetProjectedReferences(const std::vector<const Projector*>& maps, EStepSetup* s, std::size_t budget_bytes);
// Writes one reference (P complex values, or 2P floats: real parts then imaginary) as column c of
// 2P rows of `count` (ref_ri's layout for a block; count 1: one reference's 2P floats).
void PutReferenceColumn(const Complex* v, int P, int count, int c, float* out);
void PutReferenceColumn(const float* ri, int P, int count, int c, float* out);
// Whether the references come from ref_block (ref_ri empty) rather than ref_ri.
inline bool ReferencesMadeOnDemand(const EStepSetup& s) { return s.ref_ri.empty() && static_cast<bool>(s.ref_block); }
// Whether the E-step projects from the maps (ref_block or ref_rest), which must then outlive it.
inline bool ReferencesNeedMaps(const EStepSetup& s) {
  return ReferencesMadeOnDemand(s) || static_cast<bool>(s.ref_rest);
}
// Reference m with every pixel (2P floats: real parts, then imaginary), from ref_ri (and ref_rest)
// or ref_block; `rest` is scratch.
void FullReference(const EStepSetup& s, int m, float* out, std::vector<Complex>* rest);
// Every reference in ref_ri's layout: ref_ri, or made from ref_block.
std::vector<float> AllReferences(const EStepSetup& s);
// References per E-step block when they are made on demand (EStepSetup::ref_block).
constexpr int kReferenceBlock = 512;
// Builds ref_ri from the class transforms (centred FFTs), rotated by each in-plane orientation.
void SetReferences(const std::vector<FourierGrid>& refs, EStepSetup* s);  // refs padded s->pad times
// The value of a centred transform at the rotated position A(psi)^T k, bilinear (as RotateFourier).
// `scale` = the padding of `ref` (samples at scale * A^T k).
Complex SampleRotated(const FourierGrid& ref, double a00, double a01, double a10, double a11, int kx, int ky,
                      double scale = 1);

}  // namespace emkit
