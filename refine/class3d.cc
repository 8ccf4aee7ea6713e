#include "refine/class3d.h"

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <regex>

#include "core/error.h"
#include "core/fft.h"
#include "core/files.h"
#include "core/geometry.h"
#include "core/log.h"
#include "core/parallel.h"
#include "core/projector.h"
#include "core/random.h"
#include "io/mrc.h"
#include "io/png.h"
#include "io/star.h"
#include "refine/backprojector.h"
#include "refine/class2d.h"
#include "refine/class2d_model.h"
#include "refine/coarse_to_fine.h"
#include "refine/estep2d.h"
#include "refine/expectation_pass.h"
#include "refine/mstep2d.h"
#include "refine/orientations.h"
#include "refine/particle_job.h"
#include "refine/particle_prep.h"
#include "refine/pass_progress.h"
#include "refine/sampling2d.h"
#include "refine/volume_job.h"
#include "refine/volume_sums.h"

namespace emkit {

void Class3dOptions::Check() const {
  CheckShared("class3d");
  auto fail = [](const std::string& what) { throw InvalidInputError("class3d: " + what); };
  if (reference.empty() && continue_from.empty()) fail("--ref (starting map) is required");
  if (ini_high < 0) fail("--ini-high must not be negative");
  if (healpix_order < 0 || healpix_order > 6) fail("--healpix-order must be in [0, 6]");
  if (adaptive_oversampling < 0 || adaptive_oversampling > 1) fail("--oversampling must be 0 or 1");
  if (max_significant < -1) fail("--maxsig must be -1 (all), 0 (100) or positive");
  if (pad < 1 || pad > 3) fail("--pad must be 1, 2 or 3");
  if (minres_map < 0) fail("--minres-map must not be negative");
  if (!(perturb >= 0 && perturb <= 1)) fail("--perturb must be in [0, 1]");
  if (projection_memory < 0) fail("--projection-memory must not be negative");
  if (skip_align && adaptive_oversampling) fail("--skip-align scores one pose per particle: it takes --oversampling 0");
  if (skip_align && firstiter_cc) fail("--skip-align does not take --firstiter-cc (there is nothing to align)");
  SymmetryGroup check(symmetry);  // throws naming a bad group
}

void LowPassMap(Image* map, double pixel_size, double resolution) {
  if (!(resolution > 0)) return;
  const int n = map->nx();
  FourierGrid f = CentredFft(*map);
  const int shell = static_cast<int>(std::lround(n * pixel_size / resolution));
  const double lo = std::max(0, shell - 1), hi = std::min(n, shell + 1), width = hi - lo;
  for (int z = -n / 2; z < n - n / 2; ++z)
    for (int y = -n / 2; y < n - n / 2; ++y)
      for (int x = 0; x <= n / 2; ++x) {
        const double r = std::sqrt(double(x) * x + double(y) * y + double(z) * z);
        if (r < lo) continue;
        Complex& v = f.At(x, y, z);
        if (r > hi)
          v = Complex(0, 0);
        else
          v *= static_cast<float>(0.5 + 0.5 * std::cos(M_PI * (r - lo) / width));
      }
  *map = InverseCentredFft(f);
}

namespace {

struct Job : ParticleJob {
  Class3dOptions opt;
  Class2dModel model;  // noise, priors, spectra per class (its 2D refs are unused)
  std::vector<Volume> maps;
  int iteration = 0;  // last completed
  std::unique_ptr<SymmetryGroup> sym;
  HealpixGrid grid;
  double mask_radius_px() const { return opt.particle_diameter / (2 * pixel_size); }
  // Weights (CTF^2 / sigma2) in RELION's units: emkit normalises its transforms as RELION does.
  double weight_unit() const { return 1; }
  double perturbation = 0;  // this iteration's, a fraction of the angular and offset steps
};

// The E-step setup of one iteration at `size` without orientations and references; the
// translations moved by the iteration's perturbation (a fraction of the offset step) in x and y,
// as RELION.
EStepSetup BaseSetup(const Job& job, int size) {
  EStepSetup s;
  s.px = SelectPixels(job.box, size);
  s.score_pixels = LimitScoring(job.opt.strict_highres_exp, job.pixel_size, &s.px);
  s.classes = job.model.classes;
  s.trans = PerturbedTranslationGrid(job.opt.offset_range, job.opt.offset_step, job.perturbation);
  SetNoise(job.model.sigma2_noise, &s);
  for (int k = 0; k < s.classes; ++k)
    s.log_pk.push_back(job.model.pk[k] > 0 ? std::log(job.model.pk[k]) : -std::numeric_limits<double>::infinity());
  s.norm_sums = job.opt.norm_correction;
  if (job.opt.scale_correction) {
    const int ns = job.model.shells();
    s.scale_shell.assign(static_cast<std::size_t>(s.classes) * ns, 0);
    for (int k = 0; k < s.classes; ++k)
      for (int sh = 0; sh < ns; ++sh) s.scale_shell[static_cast<std::size_t>(k) * ns + sh] = job.model.ssnr[k][sh] > 3;
  }
  s.sigma_offset_px = job.model.sigma_offset_px > 0 ? job.model.sigma_offset_px : 1;
  s.compact_sums = true;
  s.adaptive_fraction = job.opt.adaptive_fraction;
  SetTranslationPhases(&s);
  return s;
}

// Without adaptive oversampling: every class map projected in every orientation of the grid.
EStepSetup MakeSetup(const Job& job, int current_size, const std::vector<const Projector*>& maps) {
  EStepSetup s = BaseSetup(job, current_size);
  s.orient = GlobalOrientations(job.grid);
  SetProjectedReferences(maps, &s, ProjectionBytes(job.opt.projection_memory));
  return s;
}

std::string ClassFile(const std::string& dir, int it, int k) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "class%03d.mrc", k + 1);
  return IterationFile(dir, it, buf);
}

SamplingInfo Sampling(const Job& job) {
  SamplingInfo si;
  si.perturb_instance = job.perturbation;
  si.perturb_factor = job.opt.perturb;
  si.healpix_order = si.healpix_order_original = job.opt.healpix_order;
  si.symmetry = job.sym->name();
  si.offset_range = si.offset_range_original = job.opt.offset_range * job.pixel_size;
  si.offset_step = si.offset_step_original = job.opt.offset_step * job.pixel_size;
  return si;
}

void WriteIteration(const Job& job, int it, const std::string& command_line, Class3dResult* result) {
  const std::string dir = job.opt.out_dir;
  MrcWriteOptions mo;
  mo.pixel_size = job.pixel_size;
  mo.kind = MrcKind::kVolume;
  std::vector<std::string> names;
  for (int k = 0; k < job.model.classes; ++k) {
    names.push_back(ClassFile(dir, it, k));
    WriteMrc(names.back(), job.maps[k], mo);
  }
  WriteModelStar(IterationFile(dir, it, "model.star"), job.model, names, 3, job.opt.pad);
  WriteDataStar(IterationFile(dir, it, "data.star"), job.set, job.state, job.pixel_size, job.model.groups);
  WriteSamplingStar(IterationFile(dir, it, "sampling.star"), Sampling(job));
  if (job.opt.write_png) WriteMapProjections(IterationFile(dir, it, "classes.png"), job.maps);
  // As RELION's Class3D: the run's options, which --continue run_itNNN_optimiser.star (or the
  // model.star beside it) keeps.
  OptimiserState o = RunOptimiserState(job.opt, dir, it);
  o.program = "class3d";
  o.adaptive_oversampling = job.opt.adaptive_oversampling;
  WriteOptimiserStar(IterationFile(dir, it, "optimiser.star"), o, command_line);
  result->last_model_star = IterationFile(dir, it, "model.star");
  result->last_data_star = IterationFile(dir, it, "data.star");
  result->last_maps = names;
}

// Class sizes of every iteration so far (a STAR table).
void WriteClassSizes(const std::string& dir, const Class3dResult& r, int first_iteration) {
  StarFile f;
  f.version = 30001;
  StarTable& t = f.Add(StarTable("class_sizes"));
  for (const char* l : {"rlnIteration", "rlnClassNumber", "rlnClassDistribution"}) t.AddColumn(l);
  for (std::size_t i = 0; i < r.class_sizes.size(); ++i)
    for (std::size_t k = 0; k < r.class_sizes[i].size(); ++k)
      t.AddRow({std::to_string(first_iteration + static_cast<int>(i)), std::to_string(k + 1),
                FormatStarNumber(r.class_sizes[i][k])});
  WriteStar(JoinPath(dir, "run_class_sizes.star"), f);
}

// --continue: a run_itNNN_model.star (emkit's or RELION's Class3D) next to its data.star, or an
// optimiser.star naming them.
void LoadContinue(Job& job) {
  const std::string& path = job.opt.continue_from;
  std::string model_star, data_star;
  int it = 0;
  auto ends = [&](const std::string& suffix) {
    return path.size() > suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends("_optimiser.star")) {
    const OptimiserState o = ReadOptimiserStar(path);
    model_star = o.model_star;
    data_star = o.data_star;
    it = o.iteration;
  } else if (ends("_model.star")) {
    model_star = path;
    data_star = path.substr(0, path.size() - 11) + "_data.star";
    std::smatch m;
    const std::string base = Basename(path);
    if (std::regex_search(base, m, std::regex("_it([0-9]+)_"))) it = std::stoi(m[1]);
  } else {
    throw InvalidInputError("--continue " + path + ": expected a run_itNNN_model.star or run_itNNN_optimiser.star");
  }
  LoadParticleJob(data_star, job);
  job.model = ReadModelStar(model_star, &job.maps);
  const StarTable* src = job.set.source.Find(job.set.particles_block);
  job.model.groups =
      MergeGroups(job.groups, job.model.groups, src && !src->Has("rlnGroupName") && src->Has("rlnGroupNumber"));
  if (job.model.box != job.box)
    throw InvalidInputError(model_star + ": rlnOriginalImageSize " + std::to_string(job.model.box) +
                            " differs from the particle box " + std::to_string(job.box));
  job.opt.classes = job.model.classes;
  job.iteration = it;
  for (auto& v : job.model.sigma2_noise)
    if (!(v > 0)) v = 0;
  if (job.model.current_size <= 0 || job.model.current_size > job.box) job.model.current_size = job.box;
  if (!(job.model.sigma_offset_px > 0)) job.model.sigma_offset_px = std::max(10.0 / job.pixel_size, 1.0);
}

}  // namespace

Class3dResult RunClass3d(const Class3dOptions& options, Communicator& comm, const std::string& command_line) {
  options.Check();
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  Job job;
  job.opt = options;
  SetGlobalThreads(job.opt.threads);
  const bool continuing = !job.opt.continue_from.empty();
  if (continuing) {
    LoadContinue(job);
  } else {
    LoadParticleJob(job.opt.input, job);
    if (job.opt.ignore_input_offsets)
      for (ParticleState& s : job.state) s.offset_x = s.offset_y = 0;
  }
  if (job.opt.skip_align && !job.has_angles)
    throw InvalidInputError(job.star_path + ": --skip-align needs the particles' orientations " +
                            "(rlnAngleRot, rlnAngleTilt, rlnAnglePsi), and the STAR has none");
  if (job.opt.particle_diameter <= 0) job.opt.particle_diameter = 0.9 * job.box * job.pixel_size;
  if (job.mask_radius_px() > job.box / 2.0)
    throw InvalidInputError("--particle-diameter " + std::to_string(job.opt.particle_diameter) +
                            " Å exceeds the box (" + std::to_string(job.box * job.pixel_size) + " Å)");
  job.sym = std::make_unique<SymmetryGroup>(job.opt.symmetry);
  job.grid = MakeHealpixGrid(job.opt.healpix_order, *job.sym);
  const int n = job.reader->count(), K = job.opt.classes, N = job.box;
  const double translations = static_cast<double>(TranslationGrid(job.opt.offset_range, job.opt.offset_step).size());
  job.SplitChunks(ChunkSize(job.opt.chunk_size, N, translations, double(K) * job.grid.orientations()), comm.rank(),
                  comm.size());

  if (comm.is_root()) std::filesystem::create_directories(job.opt.out_dir);
  comm.Barrier();
  Class3dResult result;
  const PrepOptions prep = MakePrepOptions(job.opt, job.mask_radius_px());
  std::vector<ParticleResult> results;

  if (!continuing) {
    // The reference: a cube of the particles' box and pixel size, low-passed to --ini-high.
    const Volume ref = ReadStartingMap(job.opt.reference, "--ref", N, job.pixel_size, job.opt.ini_high);
    job.maps.assign(K, ref);

    // Noise: the particles' mean power spectrum minus their plain average's (RELION).
    job.model.Resize(K, N);
    job.model.pixel_size = job.pixel_size;
    job.model.groups = job.groups;
    job.model.tau2_fudge = job.opt.tau2_fudge;
    job.model.sigma_offset_px = std::max(10.0 / job.pixel_size, 1.0);  // RELION starts at 10 Å
    EstimateInitialNoise(job, job.opt, prep, "class3d", comm, &job.model);
    // First image size: the reference's resolution (--ini-high) plus incr_size shells.
    {
      const int maxres =
          job.opt.ini_high > 0 ? static_cast<int>(std::lround(N * job.pixel_size / job.opt.ini_high)) : N / 2;
      job.model.current_resolution = maxres > 0 ? N * job.pixel_size / maxres : 2 * job.pixel_size;
      job.model.current_size = std::min(N, 2 * (maxres + job.opt.incr_size));
    }
    if (comm.is_root()) WriteIteration(job, 0, command_line, &result);
    comm.Barrier();
  }

  // RELION's seeds: in the first likelihood iteration every particle is scored against one random
  // class; a cross-correlation first iteration aligns everything to class 1 alone.
  const int seed_iteration = job.opt.firstiter_cc ? 2 : 1;
  const std::vector<int> only_first(job.opt.firstiter_cc ? n : 0, 0);
  std::vector<int> seeds;
  if (K > 1) {
    seeds.resize(n);
    for (int i = 0; i < n; ++i) seeds[i] = Rng(job.opt.seed, StreamId("class3d-seed", i)).UniformInt(0, K - 1);
  }

  result.first_iteration = job.iteration + 1;
  for (int it = job.iteration + 1; it <= job.opt.iterations; ++it) {
    const auto t0 = std::chrono::steady_clock::now();
    const int current_size = job.model.current_size, r_max = current_size / 2;
    const int scoring_size = ScoringSize(job.opt.strict_highres_exp, job.pixel_size, N);  // 0: no limit
    std::vector<std::unique_ptr<Projector>> projectors;
    std::vector<std::vector<double>> tau2(K);
    ProjectorOptions po;
    po.padding = job.opt.pad;
    po.max_radius = r_max;  // the volumes sized by the current resolution
    for (int k = 0; k < K; ++k) {
      projectors.push_back(std::make_unique<Projector>(job.maps[k], job.pixel_size, po));
      tau2[k] = projectors.back()->PowerSpectrum(r_max);
    }
    const bool cc = it == 1 && job.opt.firstiter_cc;
    job.perturbation = SamplingPerturbation(job.opt.perturb, job.opt.seed, "class3d-perturb", it);
    job.grid.SetPerturbation(job.perturbation);
    std::vector<const Projector*> maps;
    for (const auto& p : projectors) maps.push_back(p.get());
    VolumeSums sums(K, K, N, job.opt.pad, r_max, job.opt.threads);
    PassContext ctx = MakePassContext(job, job.opt, job.model, job.iteration, "class3d");
    if (cc)
      ctx.only_class = &only_first;
    else if (it == seed_iteration && K > 1)
      ctx.only_class = &seeds;
    const bool oversample = job.opt.adaptive_oversampling > 0;
    const std::unique_ptr<Progress> progress = IterationProgress(
        "class3d", it, job.opt.iterations, job, result.seconds_per_iteration, comm.is_root(), oversample ? 2 : 1);
    long scored = 0;  // orientations x classes of the (coarse) grid
    if (job.opt.skip_align) {
      // Every particle in its own pose (orientation and offsets kept), against every class.
      EStepSetup setup = BaseSetup(job, current_size);
      setup.trans = {Translation{0, 0}};
      SetTranslationPhases(&setup);
      setup.orient = OrientationSet();
      setup.orient.Add({0, 0, 0});  // each particle gets its own orientation (local_setup)
      ctx.local_setup = [&job, &maps](int i, EStepSetup* s) {
        const ParticleState& st = job.state[i];
        s->orient = OrientationSet();
        s->orient.Add({st.rot, st.tilt, st.psi});
        SetProjectedReferences(maps, s);
      };
      ProgressPassSums counted(&sums, progress.get());
      ExpectationPass(ctx, setup, nullptr, prep, comm, &counted, &results);
      projectors.clear();
      scored = K;
    } else if (oversample) {
      // RELION's adaptive oversampling: the coarse grid on cropped images, then the children of
      // each particle's significant coarse orientations at the current size.
      EStepSetup fine = BaseSetup(job, current_size);
      fine.cross_correlation = cc;
      // RELION: with --strict_highres_exp the coarse size is that of the limit.
      const int coarse_size = scoring_size > 0 ? std::min(current_size, scoring_size)
                                               : CoarseSize(job.opt.healpix_order, job.opt.particle_diameter, N,
                                                            job.pixel_size, current_size);
      EStepSetup coarse = BaseSetup(job, coarse_size);
      coarse.cross_correlation = cc;
      CoarseToFine c;
      c.grid = &job.grid;
      c.maps = maps;
      c.box = N;
      c.chunk_option = job.opt.chunk_size;
      c.threads = job.opt.threads;
      c.projection_bytes = ProjectionBytes(job.opt.projection_memory);
      c.max_significant = job.opt.max_significant == 0 ? 100 : std::max(0, job.opt.max_significant);  // -1: no cap
      c.oversampled_translation_step = job.opt.offset_step;  // each significant offset as 4 at half the step
      CoarseToFinePass(ctx, coarse, fine, c, prep, comm, progress.get(), &sums, &results);
      scored = job.grid.orientations() * K;
      projectors.clear();
    } else {
      EStepSetup setup = MakeSetup(job, current_size, maps);
      setup.cross_correlation = cc;
      // With every pixel of every reference tabulated the volumes are not needed in the pass;
      // otherwise the references (or pixels) not tabulated are projected from them as needed.
      if (!ReferencesNeedMaps(setup)) projectors.clear();
      ProgressPassSums counted(&sums, progress.get());
      ExpectationPass(ctx, setup, nullptr, prep, comm, &counted, &results);
      scored = setup.num_refs();
    }
    progress->Finish();
    ApplyResults(results, &job.state);
    if (job.opt.norm_correction) UpdateNorms(results, &job.state, &job.model);
    if (job.opt.scale_correction) UpdateScales(results, job.state, &job.model);

    // M-step: noise and priors, then one reconstruction per class, then the resolution.
    MStepOptions mo;
    mo.current_size = current_size;
    mo.num_particles = n;
    const std::vector<double> noise_before = job.model.sigma2_noise;
    MStepOtherParameters(sums.scalars(), mo, &job.model);
    if (cc) job.model.sigma2_noise = noise_before;  // RELION keeps the noise after a cross-correlation iteration
    int maxres = 0;
    for (int k = 0; k < K; ++k) {
      job.model.tau2[k] = tau2[k];
      if (!(sums.scalars().class_weight(k) > 0)) {
        job.maps[k] = Volume(N, N, N);
        std::fill(job.model.ssnr[k].begin(), job.model.ssnr[k].end(), 0.0);
        std::fill(job.model.sigma2_ref[k].begin(), job.model.sigma2_ref[k].end(), 0.0);
        job.model.est_resolution[k] = 999;
        continue;
      }
      BackProjector bp = sums.Volume(k);
      bp.Symmetrise(*job.sym, job.opt.threads);
      const BackProjector::SsnrArrays ssnr = bp.Ssnr(tau2[k], job.opt.tau2_fudge, job.weight_unit());
      job.model.sigma2_ref[k] = ssnr.sigma2;
      job.model.ssnr[k] = ssnr.data_vs_prior;
      BackProjector::ReconstructOptions ro;
      ro.tau2 = tau2[k];
      ro.tau2_fudge = job.opt.tau2_fudge;
      ro.minres_map = job.opt.minres_map;
      ro.threads = job.opt.threads;
      ro.weight_unit = job.weight_unit();
      job.maps[k] = bp.Reconstruct(ro);
      if (job.opt.flatten_solvent) SoftSphereMask(&job.maps[k], job.mask_radius_px(), job.opt.mask_edge_px);
      const int shell = ResolutionShell(job.model.ssnr[k], N);
      maxres = std::max(maxres, shell);
      job.model.est_resolution[k] = shell > 0 ? N * job.pixel_size / shell : 999;
    }
    maxres = std::max(maxres, job.opt.minres_map);
    if (cc) {
      // RELION: class 1's map low-passed to --ini-high again, copied to every class; the image size
      // stays the one of --ini-high.
      LowPassMap(&job.maps[0], job.pixel_size, job.opt.ini_high);
      for (int k = 1; k < K; ++k) {
        job.maps[k] = job.maps[0];
        job.model.tau2[k] = job.model.tau2[0];
        job.model.ssnr[k] = job.model.ssnr[0];
        job.model.sigma2_ref[k] = job.model.sigma2_ref[0];
        job.model.est_resolution[k] = job.model.est_resolution[0];
      }
      std::fill(job.model.pk.begin(), job.model.pk.end(), 1.0 / K);
      if (job.opt.ini_high > 0) maxres = static_cast<int>(std::lround(N * job.pixel_size / job.opt.ini_high));
    }
    job.model.current_resolution = N * job.pixel_size / maxres;
    job.model.current_size = std::min(N, 2 * (maxres + job.opt.incr_size));
    job.iteration = it;
    result.class_sizes.push_back(job.model.pk);
    if (comm.is_root()) {
      WriteIteration(job, it, command_line, &result);
      WriteClassSizes(job.opt.out_dir, result, result.first_iteration);
      if (job.opt.on_iteration) job.opt.on_iteration(result);
    }
    malloc_trim(0);
    comm.Barrier();
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    result.seconds_per_iteration.push_back(sec);
    const double peak_mb = LargestPeakMemoryMb(comm);
    if (comm.is_root()) {
      std::string sizes;
      for (int k = 0; k < K; ++k) sizes += (k ? " " : "") + std::to_string(job.model.pk[k]).substr(0, 5);
      const std::string scored_to =
          scoring_size > 0 && scoring_size < current_size
              ? " (scored to " + std::to_string(job.opt.strict_highres_exp).substr(0, 5) + " Å)"
              : "";
      LOG_INFO("class3d iteration " << it << "/" << job.opt.iterations << ": size " << current_size << " px"
                                    << scored_to << ", " << scored << " refs x "
                                    << (job.opt.skip_align ? 1.0 : translations) << " shifts, resolution "
                                    << job.model.current_resolution << " Å, <Pmax> " << job.model.ave_pmax
                                    << ", classes " << sizes << ", peak memory " << std::lround(peak_mb) << " MB, "
                                    << sec << " s");
    }
  }
  result.last_iteration = job.iteration;
  return result;
}

}  // namespace emkit
