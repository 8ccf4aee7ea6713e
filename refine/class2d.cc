#include "refine/class2d.h"

#include <malloc.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <regex>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/fft.h"
#include "core/files.h"
#include "core/log.h"
#include "core/parallel.h"
#include "core/random.h"
#include "io/mrc.h"
#include "io/particles.h"
#include "io/star.h"
#include "refine/class2d_model.h"
#include "refine/estep2d.h"
#include "refine/expectation_pass.h"
#include "refine/mstep2d.h"
#include "refine/padding2d.h"
#include "refine/particle_job.h"
#include "refine/particle_prep.h"
#include "refine/pass_progress.h"

namespace emkit {

std::string IterationFile(const std::string& dir, int it, const std::string& suffix) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "run_it%03d_", it);
  return JoinPath(dir, buf + suffix);
}

OptimiserState RunOptimiserState(const ClassificationOptions& opt, const std::string& dir, int it) {
  OptimiserState o;
  o.iteration = it;
  o.iterations = opt.iterations;
  o.seed = opt.seed;
  o.model_star = IterationFile(dir, it, "model.star");
  o.data_star = IterationFile(dir, it, "data.star");
  o.sampling_star = IterationFile(dir, it, "sampling.star");
  o.particle_diameter = opt.particle_diameter;
  o.offset_range_px = opt.offset_range;
  o.offset_step_px = opt.offset_step;
  o.zero_mask = opt.zero_mask;
  o.ctf = opt.ctf;
  o.only_flip_phases = opt.only_flip_phases;
  o.ctf_intact_first_peak = opt.ctf_intact_first_peak;
  o.norm_correction = opt.norm_correction;
  o.scale_correction = opt.scale_correction;
  o.incr_size = opt.incr_size;
  o.strict_highres_exp = opt.strict_highres_exp;
  return o;
}

namespace {

struct Job : ParticleJob {
  Class2dOptions opt;
  Class2dModel model;
  int iteration = 0;  // last completed
  double mask_radius_px() const { return opt.particle_diameter / (2 * pixel_size); }
};

int Class2dChunkSize(const Class2dOptions& o, int box) {
  return ChunkSize(o.chunk_size, box, static_cast<double>(TranslationGrid(o.offset_range, o.offset_step).size()),
                   static_cast<double>(o.classes) * static_cast<double>(PsiGrid(o.psi_step).size()));
}

// One pass over this rank's particles: E-step (or forced assignment) and the summed
// statistics, reduced over threads and ranks; counted in `progress` when given.
Class2dSums Pass(Job& job, const EStepSetup& setup, const std::vector<int>* forced_all, const PrepOptions& prep,
                 Communicator& comm, std::vector<ParticleResult>* results_all, double grid_scale = 0,
                 Progress* progress = nullptr) {
  // One total per process: integer (fixed-point) additions give the same bits in any order.
  Class2dSums total(setup.classes, job.box, setup.pad, setup.px.current_size, grid_scale);
  Class2dPassSums sums(&total, job.opt.threads);
  ProgressPassSums counted(&sums, progress);
  ExpectationPass(MakePassContext(job, job.opt, job.model, job.iteration, "class2d"), setup, forced_all, prep, comm,
                  &counted, results_all);
  return total;
}

EStepSetup MakeSetup(const Job& job, int current_size, bool initial) {
  EStepSetup s;
  s.px = SelectPixels(job.box, current_size);
  if (!initial) s.score_pixels = LimitScoring(job.opt.strict_highres_exp, job.pixel_size, &s.px);
  s.classes = job.model.classes;
  const int P = s.px.size();
  if (initial) {
    s.orient = InPlaneOrientations(job.opt.psi_step);
    s.trans = {{0, 0}};
    s.inv_sigma2.assign(P, 1.f);
    s.log_pk.assign(s.classes, 0.0);
  } else {
    s.orient = InPlaneOrientations(job.opt.psi_step);
    s.trans = TranslationGrid(job.opt.offset_range, job.opt.offset_step);
    SetNoise(job.model.sigma2_noise, &s);
    for (int k = 0; k < s.classes; ++k)
      s.log_pk.push_back(job.model.pk[k] > 0 ? std::log(job.model.pk[k]) : -std::numeric_limits<double>::infinity());
    s.pad = 2;
    std::vector<FourierGrid> refs;
    for (const Image& r : job.model.refs) refs.push_back(PaddedTransform(r, s.pad));
    SetReferences(refs, &s);
    s.norm_sums = job.opt.norm_correction;
    if (job.opt.scale_correction) {
      // RELION's scale uses only the shells where the class's data_vs_prior exceeds 3.
      const int ns = job.model.shells();
      s.scale_shell.assign(static_cast<std::size_t>(s.classes) * ns, 0);
      for (int k = 0; k < s.classes; ++k)
        for (int sh = 0; sh < ns; ++sh)
          s.scale_shell[static_cast<std::size_t>(k) * ns + sh] = job.model.ssnr[k][sh] > 3;
    }
  }
  s.sigma_offset_px = job.model.sigma_offset_px > 0 ? job.model.sigma_offset_px : 1;
  s.adaptive_fraction = job.opt.adaptive_fraction;
  SetTranslationPhases(&s);
  return s;
}

// Scale of the 64-bit class grids of an iteration's sums (Class2dSums). A chunk adds to a cell at
// most chunk x max_p |CTF X / sigma2| (D; |X| bounded here by 16 sigma x 1024, the margin for
// signal and norm corrections) or chunk x max_p CTF^2 / sigma2 (W; CTF <= 1 times the group scale);
// chunks x that x S stays below 2^62. Depends only on the model and options: the same on every rank.
double GridScale(const Job& job, const EStepSetup& s) {
  double gain = 1, norm_gain = 1;
  if (job.opt.scale_correction)
    for (const Class2dGroup& g : job.model.groups) gain = std::max(gain, g.scale);
  if (job.opt.norm_correction)
    for (const ParticleState& st : job.state) norm_gain = std::max(norm_gain, job.model.avg_norm / st.norm);
  double d = 0, w = 0;
  for (float inv : s.inv_sigma2) {
    w = std::max(w, double(inv));
    d = std::max(d, 16 * std::sqrt(double(inv)));
  }
  const double per_chunk = job.chunk * std::max(d * 1024 * gain * norm_gain, w * gain * gain);
  const double total = static_cast<double>(job.num_chunks) * per_chunk;
  if (!(total > 0) || !std::isfinite(total)) return 0;
  return std::ldexp(1.0, static_cast<int>(std::floor(std::log2(4611686018427387904.0 / total))));
}

MStepOptions MakeMStepOptions(const Job& job, int current_size, bool initial) {
  MStepOptions m;
  m.tau2_fudge = job.opt.tau2_fudge;
  m.mask_radius_px = job.mask_radius_px();
  m.mask_edge_px = job.opt.mask_edge_px;
  m.center_classes = job.opt.center_classes;
  m.incr_size = job.opt.incr_size;
  m.pad = initial ? 1 : 2;
  // RELION starts its random references at 0.07 x the box in Fourier pixels (80 Å for 64 px at 5 Å).
  m.initial_lowpass_shell =
      job.opt.initial_lowpass > 0
          ? std::max(1, static_cast<int>(std::floor(job.box * job.pixel_size / job.opt.initial_lowpass + 1e-9)))
          : std::max(1, static_cast<int>(std::lround(0.07 * job.box)));
  m.current_size = current_size;
  m.num_particles = job.reader->count();
  return m;
}

void WriteIteration(const Job& job, int it, const std::string& command_line, Class2dResult* result) {
  const std::string dir = job.opt.out_dir;
  const std::string classes = IterationFile(dir, it, "classes.mrcs");
  MrcWriteOptions mo;
  mo.pixel_size = job.pixel_size;
  mo.kind = MrcKind::kStack;
  WriteMrcStack(classes, job.model.refs, mo);
  WriteModelStar(IterationFile(dir, it, "model.star"), job.model, classes);
  WriteDataStar(IterationFile(dir, it, "data.star"), job.set, job.state, job.pixel_size, job.model.groups);
  OptimiserState o = RunOptimiserState(job.opt, dir, it);
  o.psi_step = job.opt.psi_step;
  WriteSamplingStar(o.sampling_star, o, job.pixel_size);
  WriteClass2dState(IterationFile(dir, it, "state.bin"), it, job.model, job.state);
  std::string png;
  if (job.opt.write_png) {
    png = IterationFile(dir, it, "classes.png");
    WriteClassMontage(png, job.model);
  }
  // Last: an iteration is complete (and --continue can start from it) once its optimiser exists.
  WriteOptimiserStar(IterationFile(dir, it, "optimiser.star"), o, command_line);
  result->last_model_star = o.model_star;
  result->last_data_star = o.data_star;
  result->last_classes = classes;
  result->last_png = png;
}

// --continue: an optimiser.star (emkit's or RELION's) or a model.star next to its data.star.
void LoadContinue(Job& job) {
  const std::string& path = job.opt.continue_from;
  std::string model_star, data_star;
  int it = 0;
  if (path.size() > 15 && path.substr(path.size() - 15) == "_optimiser.star") {
    const OptimiserState o = ReadOptimiserStar(path);
    model_star = o.model_star;
    data_star = o.data_star;
    it = o.iteration;
    if (job.opt.particle_diameter <= 0) job.opt.particle_diameter = o.particle_diameter;
    // As relion_refine --continue: the run's corrections go on.
    job.opt.norm_correction = job.opt.norm_correction || o.norm_correction;
    job.opt.scale_correction = job.opt.scale_correction || o.scale_correction;
  } else if (path.size() > 11 && path.substr(path.size() - 11) == "_model.star") {
    model_star = path;
    data_star = path.substr(0, path.size() - 11) + "_data.star";
    // emkit writes an iteration's optimiser.star last: without it the iteration is incomplete.
    const std::string optimiser = path.substr(0, path.size() - 11) + "_optimiser.star";
    if (FileExists(JoinPath(ParentDir(path), "emkit_class2d_options.toml")) && !FileExists(optimiser))
      throw InvalidInputError("--continue " + path + ": the iteration is incomplete (no " + Basename(optimiser) +
                              ", which emkit writes last); continue from an earlier iteration");
    std::smatch m;
    const std::string base = Basename(path);
    if (std::regex_search(base, m, std::regex("_it([0-9]+)_"))) it = std::stoi(m[1]);
  } else {
    throw InvalidInputError("--continue " + path + ": expected a run_itNNN_optimiser.star or run_itNNN_model.star");
  }
  LoadParticleJob(data_star, job);
  job.model = ReadModelStar(model_star);
  const StarTable* src = job.set.source.Find(job.set.particles_block);
  job.model.groups =
      MergeGroups(job.groups, job.model.groups, src && !src->Has("rlnGroupName") && src->Has("rlnGroupNumber"));
  if (job.model.box != job.box)
    throw InvalidInputError(model_star + ": rlnOriginalImageSize " + std::to_string(job.model.box) +
                            " differs from the particle box " + std::to_string(job.box));
  // emkit's exact state of the iteration, where there is one (RELION's runs have none).
  const std::string state = model_star.substr(0, model_star.size() - 11) + "_state.bin";
  if (model_star.size() > 11 && FileExists(state)) ReadClass2dState(state, it, &job.model, &job.state);
  job.opt.classes = job.model.classes;
  job.iteration = it;
  for (auto& s : job.model.sigma2_noise)
    if (!(s > 0)) s = 0;
  if (job.model.current_size <= 0 || job.model.current_size > job.box) job.model.current_size = job.box;
}

}  // namespace

Class2dResult RunClass2d(const Class2dOptions& options, Communicator& comm, const std::string& command_line) {
  options.Check();
  // Blocks of 256 KiB and more are mapped and unmapped directly (glibc otherwise raises its mmap
  // threshold after the first such free and keeps later blocks in the heap), so the peak RSS is
  // what is in use.
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  Job job;
  job.opt = options;
  SetGlobalThreads(job.opt.threads);
  if (!job.opt.continue_from.empty())
    LoadContinue(job);
  else
    LoadParticleJob(job.opt.input, job);
  for (ParticleState& st : job.state) st.rot = st.tilt = 0;  // 2D: in-plane angles only
  if (job.opt.ignore_input_offsets && job.opt.continue_from.empty())
    for (ParticleState& s : job.state) s.offset_x = s.offset_y = 0;
  if (job.opt.particle_diameter <= 0) job.opt.particle_diameter = 0.9 * job.box * job.pixel_size;
  if (job.mask_radius_px() > job.box / 2.0)
    throw InvalidInputError("--particle-diameter " + std::to_string(job.opt.particle_diameter) +
                            " Å exceeds the box (" + std::to_string(job.box * job.pixel_size) + " Å)");
  const int n = job.reader->count();
  job.SplitChunks(Class2dChunkSize(job.opt, job.box), comm.rank(), comm.size());
  if (comm.is_root()) std::filesystem::create_directories(job.opt.out_dir);
  comm.Barrier();
  Class2dResult result;
  const PrepOptions prep = MakePrepOptions(job.opt, job.mask_radius_px());
  std::vector<ParticleResult> results;
  if (job.opt.continue_from.empty()) {
    // Initial model (RELION 3.1 without references): the plain average and power spectrum of all
    // particles give sigma2; the classes start from CTF-corrected averages of a random class and
    // in-plane rotation per particle (from --seed), limited to low resolution.
    job.model.Resize(job.opt.classes, job.box);
    job.model.pixel_size = job.pixel_size;
    job.model.groups = job.groups;
    job.model.sigma_offset_px = std::max(10.0 / job.pixel_size, 1.0);  // RELION starts at 10 Å
    PrepOptions plain = prep;
    plain.zero_mask = true;
    plain.ctf = false;
    const std::vector<int> all_zero(n, 0);
    EStepSetup setup = MakeSetup(job, job.box, true);
    setup.classes = 1;
    const Class2dSums average = Pass(job, setup, &all_zero, plain, comm, &results);
    PrepOptions prep0 = prep;
    prep0.zero_mask = true;
    setup = MakeSetup(job, job.box, true);
    const int npsi = setup.num_orient();
    std::vector<int> forced(n);
    for (int i = 0; i < n; ++i) {
      Rng rng(job.opt.seed, StreamId("class2d-initial-class", i));
      const int k = rng.UniformInt(0, job.opt.classes - 1);
      forced[i] = k * npsi + rng.UniformInt(0, npsi - 1);
    }
    const Class2dSums random = Pass(job, setup, &forced, prep0, comm, &results);
    InitialModel(average, random, MakeMStepOptions(job, job.box, true), &job.model);
    if (!job.opt.references.empty()) {
      Image refs = ReadMrcFinite(job.opt.references, "--references");
      if (refs.nx() != job.box || refs.ny() != job.box || refs.nz() != job.opt.classes)
        throw InvalidInputError(job.opt.references + ": expected " + std::to_string(job.opt.classes) + " images of " +
                                std::to_string(job.box) + " px (--K), got " + std::to_string(refs.nz()) + " of " +
                                std::to_string(refs.nx()));
      for (int k = 0; k < job.opt.classes; ++k) job.model.refs[k] = refs.Section(k);
    }
    for (int i = 0; i < n; ++i) job.state[i].class_number = forced[i] / npsi + 1;
    if (comm.is_root()) WriteIteration(job, 0, command_line, &result);
    comm.Barrier();
  }
  result.first_iteration = job.iteration + 1;
  for (int it = job.iteration + 1; it <= job.opt.iterations; ++it) {
    const auto t0 = std::chrono::steady_clock::now();
    const int current_size = job.model.current_size;
    const EStepSetup setup = MakeSetup(job, current_size, false);
    const std::unique_ptr<Progress> progress =
        IterationProgress("class2d", it, job.opt.iterations, job, result.seconds_per_iteration, comm.is_root());
    Class2dSums sums = Pass(job, setup, nullptr, prep, comm, &results, GridScale(job, setup), progress.get());
    progress->Finish();
    if (sums.grid64() &&
        static_cast<double>(job.num_chunks) * sums.max_added() * sums.grid_scale() >= 4611686018427387904.0) {
      // A 64-bit class grid could have wrapped: the same pass with 128-bit grids (all ranks agree).
      if (comm.is_root()) LOG_INFO("class2d iteration " << it << ": class sums redone at 128 bits");
      sums = Pass(job, setup, nullptr, prep, comm, &results, 0);
    }
    ApplyResults(results, &job.state);
    if (job.opt.norm_correction) UpdateNorms(results, &job.state, &job.model);
    if (job.opt.scale_correction) UpdateScales(results, job.state, &job.model);
    MStep(sums, MakeMStepOptions(job, current_size, false), &job.model);
    job.iteration = it;
    if (comm.is_root()) WriteIteration(job, it, command_line, &result);
    // Hand the heap pages freed this iteration back (the threads' arenas otherwise keep them, and
    // the resident size creeps up over the iterations: N=2000 K=10 21 -> 27 MB).
    malloc_trim(0);
    comm.Barrier();
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    result.seconds_per_iteration.push_back(sec);
    const double peak_mb = LargestPeakMemoryMb(comm);
    std::ostringstream scored;
    scored << job.opt.strict_highres_exp;
    if (comm.is_root())
      LOG_INFO("class2d iteration " << it << "/" << job.opt.iterations << ": size " << current_size << " px"
                                    << (setup.score_pixels > 0 ? " (scored to " + scored.str() + " Å)" : "") << ", "
                                    << setup.num_refs() << " refs x " << setup.trans.size() << " shifts, "
                                    << "resolution " << job.model.current_resolution << " Å, <Pmax> "
                                    << job.model.ave_pmax
                                    << (job.opt.norm_correction ? ", <norm> " + std::to_string(job.model.avg_norm) : "")
                                    << ", peak memory " << std::lround(peak_mb) << " MB, " << sec << " s");
  }
  result.last_iteration = job.iteration;
  return result;
}

}  // namespace emkit
