// emkit class3d: 3D classification by regularised maximum likelihood (RELION's Class3D with a
// reference). Under `mpirun -np N emkit class3d ...` the particles are split across the ranks.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "apps/classification_flags.h"
#include "apps/command_line.h"
#include "core/error.h"
#include "core/files.h"
#include "io/plot.h"
#include "io/star.h"
#include "refine/class2d_model.h"
#include "refine/class3d.h"
#include "refine/communicator.h"

namespace emkit {
namespace {

// Share of the particles in each class per iteration.
void WriteClassSizesPlot(const std::string& path, const Class3dResult& r) {
  LinePlot plot;
  plot.title = "Class sizes";
  plot.x_label = "iteration";
  plot.y_label = "fraction of particles";
  plot.x_min = r.first_iteration > 1 ? r.first_iteration - 1 : 0;
  plot.x_max = std::max<double>(plot.x_min + 1, r.first_iteration + static_cast<int>(r.class_sizes.size()) - 1);
  plot.x_tick_text = [](double v) {  // iterations: only whole numbers are labelled
    return std::fabs(v - std::round(v)) < 1e-6 ? std::to_string(static_cast<int>(std::lround(v))) : std::string();
  };
  const std::size_t K = r.class_sizes.empty() ? 0 : r.class_sizes.front().size();
  for (std::size_t k = 0; k < K; ++k) {
    PlotCurve c;
    c.label = "class " + std::to_string(k + 1);
    for (std::size_t i = 0; i < r.class_sizes.size(); ++i) {
      c.x.push_back(r.first_iteration + static_cast<double>(i));
      c.y.push_back(r.class_sizes[i][k]);
    }
    plot.curves.push_back(c);
  }
  WriteLinePlotPng(path, plot);
}

// A continued run keeps its sampling (the sampling.star beside the model or optimiser: emkit's or
// RELION's) unless it is given again.
void ContinueSampling(const CLI::App& app, Class3dOptions* o) {
  const std::string& c = o->continue_from;
  if (!FileExists(c)) throw IoError(c + ": no such file (--continue)");
  std::string base = c;
  for (const char* suffix : {"_model.star", "_optimiser.star"}) {
    const std::string s(suffix);
    if (base.size() > s.size() && base.compare(base.size() - s.size(), s.size(), s) == 0)
      base = base.substr(0, base.size() - s.size());
  }
  const std::string sampling = base + "_sampling.star", model = base + "_model.star";
  // The run's E-step limit (RELION's and emkit's runs write it in the optimiser.star).
  if (!app.count("--strict-highres-exp") && FileExists(base + "_optimiser.star"))
    o->strict_highres_exp = ReadStrictHighresExp(base + "_optimiser.star");
  if (!FileExists(sampling) || !FileExists(model)) return;
  const StarFile f = ReadStar(sampling);
  const StarTable& t = f.Require("sampling_general");
  const double apix = ReadStar(model).Require("model_general").GetDouble(0, "rlnPixelSize");
  if (!app.count("--healpix-order") && t.Has("rlnHealpixOrder"))
    o->healpix_order = static_cast<int>(t.GetDouble(0, "rlnHealpixOrderOriginal", t.GetDouble(0, "rlnHealpixOrder")));
  if (!app.count("--sym") && t.Has("rlnSymmetryGroup")) o->symmetry = t.Get(0, "rlnSymmetryGroup");
  if (!app.count("--perturb") && t.Has("rlnSamplingPerturbFactor"))
    o->perturb = t.GetDouble(0, "rlnSamplingPerturbFactor");
  if (!app.count("--offset-range") && t.Has("rlnOffsetRange") && apix > 0)
    o->offset_range = t.GetDouble(0, "rlnOffsetRangeOriginal", t.GetDouble(0, "rlnOffsetRange")) / apix;
  if (!app.count("--offset-step") && t.Has("rlnOffsetStep") && apix > 0)
    o->offset_step = t.GetDouble(0, "rlnOffsetStepOriginal", t.GetDouble(0, "rlnOffsetStep")) / apix;
}

}  // namespace

int RunClass3dCommand(int argc, char** argv) {
  CLI::App app("3D classification by regularised maximum likelihood (RELION Class3D); runs under mpirun too", argv[0]);
  Class3dOptions o;
  ClassificationFlags flags;
  bool no_flatten = false;
  AddClassificationOptions(app, &o, &flags, "Output folder (run_itNNN_* files)");
  app.add_option("--ref", o.reference, "Starting map (.mrc, the particles' box and pixel size)");
  app.add_option("--ini-high,--ini_high", o.ini_high, "Low-pass the reference to this resolution (Å; 0: not)")
      ->capture_default_str();
  app.add_flag("--firstiter-cc,--firstiter_cc", o.firstiter_cc,
               "First iteration by cross-correlation (for a reference not on the particles' greyscale)");
  app.add_flag("--skip-align,--skip_align", o.skip_align,
               "Keep each particle's orientation and offsets (from the input STAR, e.g. a refine3d run) and "
               "classify only: every class scored in that one pose");
  app.add_option("--healpix-order,--healpix_order", o.healpix_order,
                 "Angular sampling: HEALPix order (2 = 15 degrees, 3 = 7.5 degrees)")
      ->capture_default_str();
  app.add_option("--oversampling", o.adaptive_oversampling,
                 "Adaptive oversampling: 1 scores the children (HEALPix order + 1) of each particle's significant "
                 "orientations, and its significant offsets at half the step, at full size (RELION's default), 0 "
                 "only the grid")
      ->capture_default_str();
  app.add_option("--maxsig", o.max_significant,
                 "With --oversampling 1: the children of at most this many of each particle's significant "
                 "orientations per class (the class's heaviest); 0: 100, -1: all (RELION 3.1)")
      ->capture_default_str();
  AddPerturbOption(app, &o.perturb);
  AddProjectionMemoryOption(app, &o.projection_memory);
  app.add_option("--sym", o.symmetry, "Point group: C1, Cn, Dn, T, O, I")->capture_default_str();
  app.add_option("--pad", o.pad, "Oversampling of the Fourier volumes (RELION: 2)")->capture_default_str();
  app.add_option("--minres-map,--minres_map", o.minres_map, "Fourier shells below this are not regularised")
      ->capture_default_str();
  app.add_flag("--no-flatten-solvent", no_flatten,
               "Keep the maps' solvent (default: soft spherical mask of --particle-diameter, RELION's "
               "--flatten_solvent)");
  AddDeprecatedFlag(app, "--flatten_solvent", "(the default)", o.flatten_solvent);
  AddClassificationRangeChecks(app, {{"--ini-high", NonNegative()},
                                     {"--healpix-order", InRange(0, 6)},
                                     {"--oversampling", InRange(0, 1)},
                                     {"--perturb", InRange(0, 1)},
                                     {"--projection-memory", NonNegative()},
                                     {"--pad", InRange(1, 3)},
                                     {"--minres-map", NonNegative()}});
  if (int rc = ParseCommandLine(app, argc, argv); rc >= 0) return rc;
  ApplyClassificationFlags(&flags, &o);
  o.flatten_solvent = !no_flatten;
  if (!o.continue_from.empty()) ContinueSampling(app, &o);
  o.Check();
  if (o.continue_from.empty()) {
    if (!FileExists(o.input)) throw IoError(o.input + ": no such particles STAR file");
    if (!FileExists(o.reference)) throw IoError(o.reference + ": no such reference map (--ref)");
  }
  if (o.write_png)
    o.on_iteration = [&](const Class3dResult& r) {
      WriteClassSizesPlot(JoinPath(o.out_dir, "run_class_sizes.png"), r);
    };
  std::unique_ptr<Communicator> comm = MakeCommunicator();
  std::string command_line;
  for (int i = 0; i < argc; ++i) command_line += (i ? " " : "") + std::string(argv[i]);
  RunOnAllRanks(*comm, "emkit class3d", [&] {
    std::unique_ptr<JobFolder> folder;
    if (comm->is_root()) {
      JobFolderOptions f;
      f.dir = o.out_dir;
      f.inputs = {o.input, o.reference, o.continue_from};
      f.resume = !o.continue_from.empty();
      f.resume_from = o.continue_from;
      f.output_patterns = {"run_it*", "run_class_sizes.*"};
      f.overwrite = flags.overwrite;
      folder = OpenJobFolder(app, argc, argv, f);
    }
    const Class3dResult r = RunClass3d(o, *comm, command_line);
    if (comm->is_root()) {
      folder->Complete();
      if (!flags.common.quiet) {
        std::printf("class3d: iterations %d-%d done, last model %s\n", r.first_iteration, r.last_iteration,
                    r.last_model_star.c_str());
        if (!r.class_sizes.empty()) {
          std::printf("class3d: class sizes");
          for (double v : r.class_sizes.back()) std::printf(" %.3f", v);
          std::printf("\n");
        }
      }
    }
  });
  return 0;
}

EMKIT_REGISTER_COMMAND(RunClass3dCommand, "class3d",
                       "3D classification from a reference map (regularised maximum likelihood, threads x MPI)");

}  // namespace emkit
