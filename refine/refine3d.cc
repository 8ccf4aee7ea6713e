#include "refine/refine3d.h"

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "core/error.h"
#include "core/files.h"
#include "core/geometry.h"
#include "core/log.h"
#include "core/parallel.h"
#include "core/projector.h"
#include "core/random.h"
#include "io/mrc.h"
#include "io/star.h"
#include "refine/auto_sampling.h"
#include "refine/backprojector.h"
#include "refine/class2d.h"
#include "refine/class2d_model.h"
#include "refine/class3d.h"
#include "refine/coarse_to_fine.h"
#include "refine/estep2d.h"
#include "refine/expectation_pass.h"
#include "refine/fsc.h"
#include "refine/mstep2d.h"
#include "refine/orientations.h"
#include "refine/particle_job.h"
#include "refine/particle_prep.h"
#include "refine/pass_progress.h"
#include "refine/sampling2d.h"
#include "refine/volume_job.h"
#include "refine/volume_sums.h"

namespace emkit {

void Refine3dOptions::Check() const {
  CheckShared("refine3d");
  auto fail = [](const std::string& what) { throw InvalidInputError("refine3d: " + what); };
  if (reference.empty() && continue_from.empty()) fail("--ref (starting map) is required");
  if (classes != 1) fail("refinement has one class (use class3d for several)");
  if (ini_high < 0) fail("--ini-high must not be negative");
  if (healpix_order < 0 || healpix_order > 6) fail("--healpix-order must be in [0, 6]");
  if (auto_local_healpix_order < 1 || auto_local_healpix_order > 8)
    fail("--auto-local-healpix-order must be in [1, 8]");
  if (pad < 1 || pad > 3) fail("--pad must be 1, 2 or 3");
  if (!(perturb >= 0 && perturb <= 1)) fail("--perturb must be in [0, 1]");
  if (projection_memory < 0) fail("--projection-memory must not be negative");
  if (minres_map < 0) fail("--minres-map must not be negative");
  if (low_resol_join_halves < 0) fail("--low-resol-join-halves must not be negative");
  if (!solvent_mask.empty() && !FileExists(solvent_mask))
    throw IoError(solvent_mask + ": no such file (--solvent-mask)");
  SymmetryGroup check(symmetry);  // throws naming a bad group
}

namespace {

struct Job : ParticleJob {
  Refine3dOptions opt;
  Class2dModel model;  // noise, offsets, norms, scales (all particles); one class
  Volume maps[2];      // the halves' maps
  std::vector<double> tau2[2], sigma2_ref[2];
  std::vector<double> fsc, data_vs_prior;
  std::vector<int> members[2];  // particle indices of each half
  std::vector<int> half_of;     // 0 or 1 per particle
  std::unique_ptr<SymmetryGroup> sym;
  HealpixGrid grid;         // the coarse order (scored coarse to fine: 8 children at order + 1)
  double perturbation = 0;  // this iteration's, a fraction of the angular and offset steps
  AutoSampling sampling;
  Volume solvent_mask;
  bool has_mask = false;
  bool high_fsc_at_limit = false;
  int incr_size = 10;
  int iteration = 0;  // last completed
  double mask_radius_px() const { return opt.particle_diameter / (2 * pixel_size); }
  AutoSamplingOptions sampling_options() const {
    AutoSamplingOptions o;
    o.auto_local_healpix_order = opt.auto_local_healpix_order;
    o.pixel_size = pixel_size;
    return o;
  }
};

// RELION's divideParticlesInRandomHalves: assignments from the STAR are kept (all or none);
// otherwise a seeded shuffle, its first half (rounded up) is subset 1.
void SplitHalves(Job& job) {
  const int n = static_cast<int>(job.set.particles.size());
  int given = 0;
  for (int i = 0; i < n; ++i) {
    const int s = job.set.particles[i].random_subset;
    if (s != 0 && s != 1 && s != 2)
      throw InvalidInputError(job.star_path + ": particle " + std::to_string(i + 1) + " has rlnRandomSubset " +
                              std::to_string(s) + " (expected 1 or 2)");
    given += s != 0;
  }
  if (given != 0 && given != n)
    throw InvalidInputError(job.star_path + ": rlnRandomSubset is set for " + std::to_string(given) + " of " +
                            std::to_string(n) + " particles (all or none)");
  if (given == 0) {
    std::vector<int> order(n);
    for (int i = 0; i < n; ++i) order[i] = i;
    Rng rng(job.opt.seed, StreamId("refine3d-halves", 0));
    for (int i = n - 1; i > 0; --i) std::swap(order[i], order[rng.UniformInt(0, i)]);
    for (int r = 0; r < n; ++r) job.set.particles[order[r]].random_subset = r < (n + 1) / 2 ? 1 : 2;
  }
  job.half_of.assign(n, 0);
  for (auto& m : job.members) m.clear();
  for (int i = 0; i < n; ++i) {
    job.half_of[i] = job.set.particles[i].random_subset - 1;
    job.members[job.half_of[i]].push_back(i);
  }
  if (job.members[0].empty() || job.members[1].empty())
    throw InvalidInputError(job.star_path + ": both random halves need particles (" +
                            std::to_string(job.members[0].size()) + " and " + std::to_string(job.members[1].size()) +
                            ")");
}

// The E-step setup shared by a pass's particles (orientations and references set per pass or
// per particle).
EStepSetup BaseSetup(const Job& job, int current_size) {
  EStepSetup s;
  s.px = SelectPixels(job.box, current_size);
  s.score_pixels = LimitScoring(job.opt.strict_highres_exp, job.pixel_size, &s.px);
  s.classes = 1;
  s.trans = PerturbedTranslationGrid(job.sampling.offset_range_px, job.sampling.offset_step_px, job.perturbation);
  SetNoise(job.model.sigma2_noise, &s);
  s.log_pk = {0.0};
  s.norm_sums = job.opt.norm_correction;
  if (job.opt.scale_correction) {
    const int ns = job.model.shells();
    s.scale_shell.assign(ns, 0);
    for (int sh = 0; sh < ns && sh < static_cast<int>(job.data_vs_prior.size()); ++sh)
      s.scale_shell[sh] = job.data_vs_prior[sh] > 3;
  }
  s.sigma_offset_px = job.model.sigma_offset_px > 0 ? job.model.sigma_offset_px : 1;
  s.compact_sums = true;
  s.adaptive_fraction = job.opt.adaptive_fraction;
  SetTranslationPhases(&s);
  return s;
}

// RELION's calculateExpectedAngularErrors on the first (up to) 100 particles, each against its
// half's map at its current orientation.
void EstimateAccuracy(Job& job, int current_size, const Projector* const projectors[2]) {
  const FourierPixels px = SelectPixels(job.box, current_size);
  const PrepOptions prep = MakePrepOptions(job.opt, job.mask_radius_px());
  std::vector<AccuracyParticle> parts;
  const int n = std::min(100, job.reader->count());
  for (int i = 0; i < n; ++i) {
    AccuracyParticle a;
    a.map = projectors[job.half_of[i]];
    a.angles = {job.state[i].rot, job.state[i].tilt, job.state[i].psi};
    if (job.opt.ctf) a.ctf = CtfAtPixels(job.reader->CtfOf(i), job.reader->pixel_size(), px, prep);
    a.id = static_cast<uint64_t>(i);
    parts.push_back(std::move(a));
  }
  const Accuracy acc = ExpectedAccuracy(parts, px, job.model.sigma2_noise, job.opt.seed);
  job.sampling.acc_rot = acc.rot_deg;
  job.sampling.acc_trans = acc.trans_px * job.pixel_size;
}

// The E-step of both halves: each half's particles against its own map, coarse to fine as RELION's
// adaptive oversampling (CoarseToFinePass): global searches score the whole coarse grid, local
// searches the orientations near each particle's, with their Gaussian prior.
void Expectation(Job& job, int current_size, bool cross_correlation, const Projector* const projectors[2],
                 Communicator& comm, VolumeSums* sums, Progress* progress, std::vector<ParticleResult>* results) {
  const PrepOptions prep = MakePrepOptions(job.opt, job.mask_radius_px());
  EStepSetup fine = BaseSetup(job, current_size);
  fine.cross_correlation = cross_correlation;
  // RELION: with --strict_highres_exp the coarse size is that of the limit.
  const int scoring_size = ScoringSize(job.opt.strict_highres_exp, job.pixel_size, job.box);
  EStepSetup coarse =
      BaseSetup(job, scoring_size > 0 ? std::min(current_size, scoring_size)
                                      : CoarseSize(job.sampling.healpix_order, job.opt.particle_diameter, job.box,
                                                   job.pixel_size, current_size));
  coarse.cross_correlation = cross_correlation;
  const double sigma = job.sampling.sigma_angles_deg;
  for (int h = 0; h < 2; ++h) {
    PassContext ctx = MakePassContext(job, job.opt, job.model, job.iteration, "refine3d");
    ctx.particles = &job.members[h];
    CoarseToFine c;
    c.grid = &job.grid;
    c.maps = {projectors[h]};
    c.box = job.box;
    c.chunk_option = job.opt.chunk_size;
    c.threads = job.opt.threads;
    c.projection_bytes = ProjectionBytes(job.opt.projection_memory);
    c.oversampled_translation_step = job.sampling.offset_step_px;
    if (job.sampling.local)
      c.local_orientations = [&job, sigma](int i, std::vector<int>* indices) {
        const ParticleState& st = job.state[i];
        return LocalOrientations(job.grid, *job.sym, {st.rot, st.tilt, st.psi}, sigma, sigma, indices);
      };
    sums->StartPass(h, h == 1);
    CoarseToFinePass(ctx, coarse, fine, c, prep, comm, progress, sums, results);
  }
}

// The changes of the best orientations (mean, degrees) and offsets (RMS per axis, Å) against
// the previous iteration's, in particle order.
void HiddenVariableChanges(const Job& job, const std::vector<ParticleResult>& results, double* orient, double* offs) {
  double so = 0, sx = 0;
  const int n = static_cast<int>(results.size());
  for (int i = 0; i < n; ++i) {
    const ParticleState& st = job.state[i];
    const ParticleResult& r = results[i];
    so +=
        OrientationDistance(EulerToMatrix({st.rot, st.tilt, st.psi}), EulerToMatrix({r.rot, r.tilt, r.psi}), *job.sym);
    const double dx = (r.offset_x - st.offset_x) * job.pixel_size, dy = (r.offset_y - st.offset_y) * job.pixel_size;
    sx += dx * dx + dy * dy;
  }
  *orient = n ? so / n : 0;
  *offs = n ? std::sqrt(sx / (2.0 * n)) : 0;
}

// Solvent flattening: the mask, or a soft sphere of the particle diameter.
void Flatten(const Job& job, Volume* map) {
  if (job.has_mask) {
    float* v = map->data();
    const float* m = job.solvent_mask.data();
    for (std::size_t i = 0; i < map->size(); ++i) v[i] *= m[i];
  } else if (job.opt.flatten_solvent) {
    SoftSphereMask(map, job.mask_radius_px(), job.opt.mask_edge_px);
  }
}

// RELION's updateCurrentResolution (gold standard) and updateImageSizeAndResolutionPointers.
void UpdateResolutionAndSize(Job& job, bool use_all_data) {
  const int N = job.box;
  int ires = ResolutionShell(job.data_vs_prior, N);
  // RELION also looks from the high-resolution side (phase randomisation artefacts).
  int ires2 = N / 2 - 1;
  for (; ires2 >= ires; --ires2)
    if (job.data_vs_prior[ires2] > 1) break;
  if (ires2 > ires + 3) ires = ires2;
  const int maxres = std::max(ires, job.opt.minres_map);
  const double newres = N * job.pixel_size / maxres;  // Å
  if (1 / newres <= 1 / job.model.current_resolution + 0.0001)
    ++job.sampling.iter_wo_resolution_gain;
  else
    job.sampling.iter_wo_resolution_gain = 0;
  job.model.current_resolution = newres;
  int size_shells = maxres;
  if (job.model.ave_pmax > 0.1 && job.high_fsc_at_limit)
    size_shells += static_cast<int>(std::lround(0.25 * N / 2));
  else
    size_shells += job.incr_size;
  job.model.current_size = use_all_data ? N : std::min(N, 2 * size_shells);
}

// The M-step of one iteration: noise and offsets from all particles, then the two halves'
// maps with tau2 from their FSC (or, when final, one map of both at full size and the halves
// without regularisation). Returns the final map (empty before convergence).
Volume Maximization(Job& job, const VolumeSums& sums, int current_size, bool cross_correlation, bool final,
                    Volume unfil[2]) {
  const int N = job.box;
  MStepOptions mo;
  mo.current_size = current_size;
  mo.num_particles = job.reader->count();
  const std::vector<double> noise_before = job.model.sigma2_noise;
  MStepOtherParameters(sums.scalars(), mo, &job.model);
  if (cross_correlation) job.model.sigma2_noise = noise_before;  // RELION keeps the noise after a CC iteration
  BackProjector bp[2] = {sums.Volume(0), sums.Volume(1)};
  for (auto& b : bp) b.Symmetrise(*job.sym, job.opt.threads);
  BackProjector::ReconstructOptions plain;
  plain.threads = job.opt.threads;
  if (final) {
    for (int h = 0; h < 2; ++h) unfil[h] = bp[h].Reconstruct(plain);
  }
  if (job.opt.low_resol_join_halves > 0) {
    const double res = std::max(job.opt.low_resol_join_halves, job.model.current_resolution);
    const int r = std::min(bp[0].r_max(), static_cast<int>(std::ceil(N * job.pixel_size / res)));
    BackProjector::JoinLowResolution(&bp[0], &bp[1], r);
  }
  job.fsc = BackProjector::HalfFsc(bp[0], bp[1]);
  // incr_size at least the shells between FSC 0.5 and 0.143, plus 5 (RELION).
  int fsc05 = -1, fsc0143 = -1;
  for (std::size_t i = 0; i < job.fsc.size(); ++i) {
    if (job.fsc[i] < 0.5 && fsc05 < 0) fsc05 = static_cast<int>(i);
    if (job.fsc[i] < 0.143 && fsc0143 < 0) fsc0143 = static_cast<int>(i);
  }
  job.incr_size = std::max(job.incr_size, fsc0143 - fsc05 + 5);
  job.high_fsc_at_limit = current_size / 2 - 1 >= 0 && job.fsc[current_size / 2 - 1] > 0.2;
  BackProjector::ReconstructOptions ro;
  ro.tau2_fudge = job.opt.tau2_fudge;
  ro.minres_map = job.opt.minres_map;
  ro.threads = job.opt.threads;
  if (final) {
    bp[0].Add(bp[1]);
    const BackProjector::SsnrArrays s = bp[0].SsnrFromFsc(job.fsc, job.opt.tau2_fudge, true);
    job.data_vs_prior = s.data_vs_prior;
    job.tau2[0] = job.tau2[1] = s.tau2;
    job.sigma2_ref[0] = job.sigma2_ref[1] = s.sigma2;
    ro.tau2 = s.tau2;
    return bp[0].Reconstruct(ro);
  }
  for (int h = 0; h < 2; ++h) {
    const BackProjector::SsnrArrays s = bp[h].SsnrFromFsc(job.fsc, job.opt.tau2_fudge, false);
    job.data_vs_prior = s.data_vs_prior;
    job.tau2[h] = s.tau2;
    job.sigma2_ref[h] = s.sigma2;
    ro.tau2 = s.tau2;
    job.maps[h] = bp[h].Reconstruct(ro);
    Flatten(job, &job.maps[h]);
  }
  if (cross_correlation) {
    for (auto& m : job.maps) LowPassMap(&m, job.pixel_size, job.opt.ini_high);
  }
  return Volume();
}

SamplingInfo Sampling(const Job& job) {
  SamplingInfo si;
  si.perturb_instance = job.perturbation;
  si.perturb_factor = job.opt.perturb;
  si.healpix_order = job.sampling.healpix_order;
  si.healpix_order_original = job.opt.healpix_order;
  si.symmetry = job.sym->name();
  si.offset_range = job.sampling.offset_range_px * job.pixel_size;
  si.offset_step = job.sampling.offset_step_px * job.pixel_size;
  si.offset_range_original = job.opt.offset_range * job.pixel_size;
  si.offset_step_original = job.opt.offset_step * job.pixel_size;
  si.local = job.sampling.local;
  si.sigma_angles_deg = job.sampling.sigma_angles_deg;
  return si;
}

// The model of half h (or of the joined map when h < 0) for its model.star.
Class2dModel HalfModel(const Job& job, int h) {
  Class2dModel m = job.model;
  const int k = h < 0 ? 0 : h;
  m.tau2[0] = job.tau2[k];
  m.sigma2_ref[0] = job.sigma2_ref[k];
  m.ssnr[0] = job.data_vs_prior;
  m.fsc_halves = job.fsc;
  m.acc_rot = {job.sampling.acc_rot};
  m.acc_trans_px = {job.sampling.acc_trans / job.pixel_size};
  m.est_resolution = {job.model.current_resolution};
  m.pk = {1.0};
  return m;
}

void WriteOptimiserState(const std::string& path, const Job& job, const std::string& model_star,
                         const std::string& data_star, const std::string& sampling_star,
                         const std::string& command_line) {
  StarFile f;
  f.version = 30001;
  StarTable& t = f.Add(StarTable("optimiser_general", false));
  const AutoSampling& s = job.sampling;
  t.SetPair("rlnOutputRootName", JoinPath(job.opt.out_dir, "run"));
  t.SetPair("rlnModelStarFile", model_star);
  t.SetPair("rlnExperimentalDataStarFile", data_star);
  t.SetPair("rlnOrientSamplingStarFile", sampling_star);
  t.SetPair("rlnCurrentIteration", std::to_string(job.iteration));
  t.SetPair("rlnNumberOfIterations", std::to_string(job.opt.iterations));
  t.SetPair("rlnRandomSeed", std::to_string(job.opt.seed));
  t.SetPair("rlnParticleDiameter", FormatStarNumber(job.opt.particle_diameter));
  t.SetPair("rlnDoAutoRefine", "1");
  t.SetPair("rlnDoSplitRandomHalves", "1");
  t.SetPair("rlnJoinHalvesUntilThisResolution", FormatStarNumber(job.opt.low_resol_join_halves));
  t.SetPair("rlnAutoLocalSearchesHealpixOrder", std::to_string(job.opt.auto_local_healpix_order));
  t.SetPair("rlnNumberOfIterWithoutResolutionGain", std::to_string(s.iter_wo_resolution_gain));
  t.SetPair("rlnNumberOfIterWithoutChangingAssignments", std::to_string(s.iter_wo_large_changes));
  t.SetPair("rlnHasConverged", s.converged ? "1" : "0");
  t.SetPair("rlnHasHighFscAtResolLimit", job.high_fsc_at_limit ? "1" : "0");
  t.SetPair("rlnIncrementImageSize", std::to_string(job.incr_size));
  t.SetPair("rlnHighresLimitExpectation",
            FormatStarNumber(job.opt.strict_highres_exp > 0 ? job.opt.strict_highres_exp : -1));
  t.SetPair("rlnChangesOptimalOrientations", FormatStarNumber(s.changes_orientations));
  t.SetPair("rlnChangesOptimalOffsets", FormatStarNumber(s.changes_offsets));
  t.SetPair("rlnSmallestChangesOrientations", FormatStarNumber(s.smallest_changes_orientations));
  t.SetPair("rlnSmallestChangesOffsets", FormatStarNumber(s.smallest_changes_offsets));
  t.SetPair("rlnOverallAccuracyRotations", FormatStarNumber(s.acc_rot));
  t.SetPair("rlnOverallAccuracyTranslationsAngst", FormatStarNumber(s.acc_trans));
  t.SetPair("rlnHasFineEnoughAngularSampling", s.fine_enough ? "1" : "0");
  t.SetPair("rlnOptimiserCommandLine", command_line.empty() ? std::string("emkit refine3d") : command_line);
  WriteStar(path, f);
}

std::string HalfMapFile(const std::string& dir, int it, int h) {
  return IterationFile(dir, it, h == 0 ? "half1_class001.mrc" : "half2_class001.mrc");
}

void WriteIteration(const Job& job, int it, const std::string& command_line) {
  const std::string dir = job.opt.out_dir;
  MrcWriteOptions mo;
  mo.pixel_size = job.pixel_size;
  mo.kind = MrcKind::kVolume;
  for (int h = 0; h < 2; ++h) {
    WriteMrc(HalfMapFile(dir, it, h), job.maps[h], mo);
    WriteModelStar(IterationFile(dir, it, h == 0 ? "half1_model.star" : "half2_model.star"), HalfModel(job, h),
                   {HalfMapFile(dir, it, h)}, 3, job.opt.pad);
  }
  WriteDataStar(IterationFile(dir, it, "data.star"), job.set, job.state, job.pixel_size, job.model.groups);
  WriteSamplingStar(IterationFile(dir, it, "sampling.star"), Sampling(job));
  WriteOptimiserState(IterationFile(dir, it, "optimiser.star"), job, IterationFile(dir, it, "half1_model.star"),
                      IterationFile(dir, it, "data.star"), IterationFile(dir, it, "sampling.star"), command_line);
  if (job.opt.write_png) WriteMapProjections(IterationFile(dir, it, "halves.png"), {job.maps[0], job.maps[1]});
}

void WriteFinal(const Job& job, const Volume& map, const Volume unfil[2], Refine3dResult* result) {
  const std::string dir = job.opt.out_dir;
  MrcWriteOptions mo;
  mo.pixel_size = job.pixel_size;
  mo.kind = MrcKind::kVolume;
  result->final_map = JoinPath(dir, "run_class001.mrc");
  WriteMrc(result->final_map, map, mo);
  for (int h = 0; h < 2; ++h) {
    result->half_maps[h] = JoinPath(dir, h == 0 ? "run_half1_class001_unfil.mrc" : "run_half2_class001_unfil.mrc");
    WriteMrc(result->half_maps[h], unfil[h], mo);
  }
  result->model_star = JoinPath(dir, "run_model.star");
  WriteModelStar(result->model_star, HalfModel(job, -1), {result->final_map}, 3, job.opt.pad);
  result->data_star = JoinPath(dir, "run_data.star");
  WriteDataStar(result->data_star, job.set, job.state, job.pixel_size, job.model.groups);
  WriteSamplingStar(JoinPath(dir, "run_sampling.star"), Sampling(job));
  WriteFscStar(JoinPath(dir, "run_fsc.star"), job.fsc, job.box, job.pixel_size);
  if (job.opt.write_png) {
    WriteMapProjections(JoinPath(dir, "run_class001.png"), {map});
  }
}

}  // namespace

namespace {

// --continue: a run_itNNN_optimiser.star of emkit refine3d (its model, data and sampling files
// next to it), from which the halves, their maps, the noise model and the sampling state resume.
void LoadContinue(Job& job) {
  const std::string& path = job.opt.continue_from;
  const StarFile f = ReadStar(path);
  const StarTable* t = f.Find("optimiser_general");
  if (!t || !t->Has("rlnModelStarFile") || !t->Has("rlnExperimentalDataStarFile"))
    throw InvalidInputError(path +
                            ": not an optimiser.star of emkit refine3d (--continue takes run_itNNN_optimiser.star)");
  auto resolve = [&](const std::string& p) {
    if (FileExists(p)) return p;
    const std::string beside = JoinPath(std::filesystem::path(path).parent_path().string(), Basename(p));
    return FileExists(beside) ? beside : p;
  };
  const std::string model_star = resolve(t->Get(0, "rlnModelStarFile"));
  const std::string data_star = resolve(t->Get(0, "rlnExperimentalDataStarFile"));
  const std::string sampling_star = resolve(t->Get(0, "rlnOrientSamplingStarFile"));
  LoadParticleJob(data_star, job);
  std::vector<Image> maps;
  job.model = ReadModelStar(model_star, &maps);
  const StarTable* src = job.set.source.Find(job.set.particles_block);
  job.model.groups =
      MergeGroups(job.groups, job.model.groups, src && !src->Has("rlnGroupName") && src->Has("rlnGroupNumber"));
  if (job.model.box != job.box)
    throw InvalidInputError(model_star + ": rlnOriginalImageSize " + std::to_string(job.model.box) +
                            " differs from the particle box " + std::to_string(job.box));
  job.maps[0] = maps.at(0);
  std::string half2 = model_star;
  const std::size_t at = half2.rfind("half1_model.star");
  if (at == std::string::npos) throw InvalidInputError(model_star + ": expected a run_itNNN_half1_model.star");
  half2.replace(at, 16, "half2_model.star");
  std::vector<Image> maps2;
  ReadModelStar(half2, &maps2);
  job.maps[1] = maps2.at(0);
  job.iteration = static_cast<int>(t->GetDouble(0, "rlnCurrentIteration", 0));
  AutoSampling& s = job.sampling;
  s.iter_wo_resolution_gain = static_cast<int>(t->GetDouble(0, "rlnNumberOfIterWithoutResolutionGain", 0));
  s.iter_wo_large_changes = static_cast<int>(t->GetDouble(0, "rlnNumberOfIterWithoutChangingAssignments", 0));
  s.changes_orientations = t->GetDouble(0, "rlnChangesOptimalOrientations", 999);
  s.changes_offsets = t->GetDouble(0, "rlnChangesOptimalOffsets", 999);
  s.smallest_changes_orientations = t->GetDouble(0, "rlnSmallestChangesOrientations", 999);
  s.smallest_changes_offsets = t->GetDouble(0, "rlnSmallestChangesOffsets", 999);
  s.acc_rot = t->GetDouble(0, "rlnOverallAccuracyRotations", 999);
  s.acc_trans = t->GetDouble(0, "rlnOverallAccuracyTranslationsAngst", 999);
  s.fine_enough = t->GetDouble(0, "rlnHasFineEnoughAngularSampling", 0) != 0;
  job.high_fsc_at_limit = t->GetDouble(0, "rlnHasHighFscAtResolLimit", 0) != 0;
  job.incr_size = static_cast<int>(t->GetDouble(0, "rlnIncrementImageSize", job.opt.incr_size));
  const StarFile sampling_file = ReadStar(sampling_star);
  const StarTable& g = sampling_file.Require("sampling_general");
  s.healpix_order = static_cast<int>(g.GetDouble(0, "rlnHealpixOrder", job.opt.healpix_order));
  s.offset_range_px = g.GetDouble(0, "rlnOffsetRange", job.opt.offset_range * job.pixel_size) / job.pixel_size;
  s.offset_step_px = g.GetDouble(0, "rlnOffsetStep", job.opt.offset_step * job.pixel_size) / job.pixel_size;
  s.local = g.GetDouble(0, "rlnOrientationalPriorMode", 0) != 0;
  s.sigma_angles_deg = g.GetDouble(0, "rlnSigmaPriorRotAngle", 0);
  // The FSC and data_vs_prior of the model (the same for both halves).
  const StarFile model_file = ReadStar(model_star);
  const StarTable& c = model_file.Require("model_class_1");
  job.fsc.assign(job.model.shells(), 0.0);
  for (std::size_t r = 0; r < c.num_rows() && r < job.fsc.size(); ++r)
    job.fsc[r] = c.GetDouble(r, "rlnGoldStandardFsc", 0);
  job.data_vs_prior = job.model.ssnr[0];
  job.tau2[0] = job.tau2[1] = job.model.tau2[0];
  job.sigma2_ref[0] = job.sigma2_ref[1] = job.model.sigma2_ref[0];
  for (auto& v : job.model.sigma2_noise)
    if (!(v > 0)) v = 0;
  if (job.model.current_size <= 0 || job.model.current_size > job.box) job.model.current_size = job.box;
  if (!(job.model.sigma_offset_px > 0)) job.model.sigma_offset_px = std::max(10.0 / job.pixel_size, 1.0);
}

void LogIteration(const Refine3dIteration& r, int max_iterations, bool final) {
  LOG_INFO("refine3d iteration " << r.iteration << (final ? " (final, halves joined)" : "") << " of at most "
                                 << max_iterations << ": size " << r.current_size << " px, HEALPix order "
                                 << r.healpix_order << (r.local ? " local" : " global") << ", offsets "
                                 << r.offset_range_px << "/" << r.offset_step_px << " px, accuracy " << r.acc_rot
                                 << " deg / " << r.acc_trans << " Å, changes " << r.changes_orientations << " deg / "
                                 << r.changes_offsets << " Å, <Pmax> " << r.ave_pmax << ", resolution " << r.resolution
                                 << " Å, peak memory " << std::lround(r.peak_memory_mb) << " MB, " << r.seconds
                                 << " s");
}

}  // namespace

Refine3dResult RunRefine3d(const Refine3dOptions& options, Communicator& comm, const std::string& command_line) {
  options.Check();
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  Job job;
  job.opt = options;
  job.incr_size = job.opt.incr_size;
  SetGlobalThreads(job.opt.threads);
  const bool continuing = !job.opt.continue_from.empty();
  if (continuing) {
    LoadContinue(job);
  } else {
    LoadParticleJob(job.opt.input, job);
    if (job.opt.ignore_input_offsets)
      for (ParticleState& s : job.state) s.offset_x = s.offset_y = 0;
    job.sampling.healpix_order = job.opt.healpix_order;
    job.sampling.offset_range_px = job.opt.offset_range;
    job.sampling.offset_step_px = job.opt.offset_step;
    // RELION: from --auto-local-healpix-order on, searches are local from the start (around the
    // particles' angles in the STAR file).
    if (job.sampling.healpix_order >= job.opt.auto_local_healpix_order) {
      job.sampling.local = true;
      job.sampling.sigma_angles_deg = 2 * job.sampling.angular_step();
    }
  }
  for (ParticleState& s : job.state) s.class_number = 1;
  const int N = job.box;
  if (job.opt.particle_diameter <= 0) job.opt.particle_diameter = 0.9 * N * job.pixel_size;
  if (job.mask_radius_px() > N / 2.0)
    throw InvalidInputError("--particle-diameter " + std::to_string(job.opt.particle_diameter) +
                            " Å exceeds the box (" + std::to_string(N * job.pixel_size) + " Å)");
  job.sym = std::make_unique<SymmetryGroup>(job.opt.symmetry);
  SplitHalves(job);
  job.SplitChunks(ChunkSize(job.opt.chunk_size, N, 1, 1), comm.rank(), comm.size());  // the initial noise pass
  if (!job.opt.solvent_mask.empty()) {
    job.solvent_mask = ReadMrcFinite(job.opt.solvent_mask, "--solvent-mask");
    if (job.solvent_mask.nx() != N || job.solvent_mask.ny() != N || job.solvent_mask.nz() != N)
      throw InvalidInputError(job.opt.solvent_mask + ": the mask is " + std::to_string(job.solvent_mask.nx()) + " x " +
                              std::to_string(job.solvent_mask.ny()) + " x " + std::to_string(job.solvent_mask.nz()) +
                              " voxels; the particles' box is " + std::to_string(N));
    job.has_mask = true;
  }
  if (comm.is_root()) std::filesystem::create_directories(job.opt.out_dir);
  comm.Barrier();
  Refine3dResult result;

  if (!continuing) {
    job.maps[0] = ReadStartingMap(job.opt.reference, "--ref", N, job.pixel_size, job.opt.ini_high);
    job.maps[1] = job.maps[0];
    job.model.Resize(1, N);
    job.model.pixel_size = job.pixel_size;
    job.model.groups = job.groups;
    job.model.tau2_fudge = job.opt.tau2_fudge;
    job.model.sigma_offset_px = std::max(10.0 / job.pixel_size, 1.0);  // RELION starts at 10 Å
    EstimateInitialNoise(job, job.opt, MakePrepOptions(job.opt, job.mask_radius_px()), "refine3d", comm, &job.model);
    const int maxres =
        job.opt.ini_high > 0 ? static_cast<int>(std::lround(N * job.pixel_size / job.opt.ini_high)) : N / 2;
    job.model.current_resolution = N * job.pixel_size / std::max(1, maxres);
    job.model.current_size = std::min(N, 2 * (maxres + job.incr_size));
    job.fsc.assign(job.model.shells(), 0.0);
    job.data_vs_prior.assign(job.model.shells(), 0.0);
    for (int h = 0; h < 2; ++h) job.tau2[h] = job.sigma2_ref[h] = job.data_vs_prior;
    if (comm.is_root()) WriteIteration(job, 0, command_line);
    comm.Barrier();
  }
  auto make_grids = [&job] { job.grid = MakeHealpixGrid(job.sampling.healpix_order, *job.sym); };
  make_grids();

  result.first_iteration = job.iteration + 1;
  result.box = N;
  result.pixel_size = job.pixel_size;
  std::vector<ParticleResult> results;
  for (int it = job.iteration + 1; it <= job.opt.iterations; ++it) {
    const auto t0 = std::chrono::steady_clock::now();
    // RELION's order: the convergence check, then (in the E-step) the accuracy estimate and the
    // sampling update. The last iteration uses all data to Nyquist.
    const bool final = CheckConvergence(&job.sampling);
    const int current_size = final ? N : job.model.current_size;
    ProjectorOptions po;
    po.padding = job.opt.pad;
    po.max_radius = current_size / 2;  // the volumes sized by the current resolution
    const Projector proj0(job.maps[0], job.pixel_size, po), proj1(job.maps[1], job.pixel_size, po);
    const Projector* const projectors[2] = {&proj0, &proj1};
    const bool cc = it == 1 && job.opt.firstiter_cc;
    if (it > 1 && !cc) {
      EstimateAccuracy(job, current_size, projectors);
      if (!final && UpdateAngularSampling(job.sampling_options(), &job.sampling)) make_grids();
    }
    job.perturbation = SamplingPerturbation(job.opt.perturb, job.opt.seed, "refine3d-perturb", it);
    job.grid.SetPerturbation(job.perturbation);
    VolumeSums sums(2, 1, N, job.opt.pad, current_size / 2, job.opt.threads);  // one volume per half
    std::vector<double> seconds_so_far;
    for (const Refine3dIteration& r : result.iterations) seconds_so_far.push_back(r.seconds);
    const std::unique_ptr<Progress> progress =
        IterationProgress("refine3d", it, -1, job, seconds_so_far, comm.is_root(), 2);
    Expectation(job, current_size, cc, projectors, comm, &sums, progress.get(), &results);
    progress->Finish();
    double d_orient = 0, d_offset = 0;
    HiddenVariableChanges(job, results, &d_orient, &d_offset);
    UpdateHiddenVariableChanges(d_orient, d_offset, job.sampling_options(), &job.sampling);
    ApplyResults(results, &job.state);
    for (ParticleState& s : job.state) s.class_number = 1;
    if (job.opt.norm_correction) UpdateNorms(results, &job.state, &job.model);
    if (job.opt.scale_correction) UpdateScales(results, job.state, &job.model);

    Volume unfil[2];
    const Volume final_map = Maximization(job, sums, current_size, cc, final, unfil);
    if (!cc) UpdateResolutionAndSize(job, false);
    job.iteration = it;

    Refine3dIteration rec;
    rec.iteration = it;
    rec.resolution = job.model.current_resolution;
    rec.current_size = current_size;
    rec.healpix_order = job.sampling.healpix_order;
    rec.local = job.sampling.local;
    rec.offset_step_px = job.sampling.offset_step_px;
    rec.offset_range_px = job.sampling.offset_range_px;
    rec.acc_rot = job.sampling.acc_rot;
    rec.acc_trans = job.sampling.acc_trans;
    rec.changes_orientations = d_orient;
    rec.changes_offsets = d_offset;
    rec.ave_pmax = job.model.ave_pmax;
    result.fsc = job.fsc;
    result.last_iteration = it;
    if (comm.is_root()) {
      if (final)
        WriteFinal(job, final_map, unfil, &result);
      else
        WriteIteration(job, it, command_line);
    }
    malloc_trim(0);
    comm.Barrier();
    rec.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rec.peak_memory_mb = LargestPeakMemoryMb(comm);
    result.iterations.push_back(rec);
    if (comm.is_root()) {
      LogIteration(rec, job.opt.iterations, final);
      if (job.opt.on_iteration) job.opt.on_iteration(result);
    }
    if (final) {
      result.converged = true;
      break;
    }
  }
  result.final_resolution = job.model.current_resolution;
  if (!result.converged && comm.is_root())
    LOG_WARN("refine3d: not converged after " << job.opt.iterations
                                              << " iterations; continue with --continue and a larger --iter");
  return result;
}

}  // namespace emkit
