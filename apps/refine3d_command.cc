// emkit refine3d: gold-standard 3D auto-refinement (RELION's Refine3D with --auto_refine
// --split_random_halves). Under `mpirun -np N emkit refine3d ...` both halves' particles are
// split across the ranks.
#include <chrono>
#include <cstdio>

#include "apps/classification_flags.h"
#include "apps/command_line.h"
#include "core/error.h"
#include "core/files.h"
#include "io/plot.h"
#include "refine/class2d_model.h"
#include "refine/communicator.h"
#include "refine/refine3d.h"

namespace emkit {
namespace {

void WriteFscPlot(const std::string& path, const std::vector<double>& fsc, int box, double apix, double resolution) {
  LinePlot p;
  char title[96];
  std::snprintf(title, sizeof title, "Half-map FSC: %.2f A at 0.143", resolution);
  p.title = title;
  p.x_label = "resolution (1/A)";
  p.y_label = "FSC";
  p.x_max = 1 / (2 * apix);
  p.y_min = std::min(0.0, *std::min_element(fsc.begin(), fsc.end()));
  p.h_lines = {0.143, 0.5};
  p.x_tick_text = [](double v) {
    char b[16];
    std::snprintf(b, sizeof b, v > 0 ? "1/%.3g" : "0", v > 0 ? 1 / v : 0.0);
    return std::string(b);
  };
  PlotCurve c;
  c.label = "half 1 vs half 2";
  for (std::size_t s = 0; s < fsc.size(); ++s) {
    c.x.push_back(s / (box * apix));
    c.y.push_back(fsc[s]);
  }
  p.curves = {c};
  WriteLinePlotPng(path, p);
}

}  // namespace

int RunRefine3dCommand(int argc, char** argv) {
  CLI::App app(
      "Gold-standard 3D auto-refinement (RELION Refine3D): two random halves, FSC-driven resolution, "
      "auto-sampling with local searches; runs under mpirun too",
      argv[0]);
  Refine3dOptions o;
  ClassificationFlags flags;
  bool no_flatten = false;
  AddClassificationOptions(app, &o, &flags, "Output folder (run_itNNN_* per iteration, run_class001.mrc at the end)");
  app.get_option("--iter")->description("The most iterations (the run stops earlier when it converges)");
  app.add_option("--ref", o.reference, "Starting map (.mrc, the particles' box and pixel size)");
  app.add_option("--ini-high,--ini_high", o.ini_high, "Low-pass the reference to this resolution (Å; 0: not)")
      ->capture_default_str();
  app.add_flag("--firstiter-cc,--firstiter_cc", o.firstiter_cc,
               "First iteration by cross-correlation (for a reference not on the particles' greyscale)");
  app.add_option("--healpix-order,--healpix_order", o.healpix_order,
                 "First angular sampling: HEALPix order (2 = 15 degrees; emkit scores it without a finer second "
                 "pass, so 3 matches RELION's 2)")
      ->capture_default_str();
  app.add_option("--auto-local-healpix-order,--auto_local_healpix_order", o.auto_local_healpix_order,
                 "Local searches (sigma = 2 steps) from this HEALPix order on")
      ->capture_default_str();
  AddPerturbOption(app, &o.perturb);
  AddProjectionMemoryOption(app, &o.projection_memory);
  app.add_option("--sym", o.symmetry, "Point group: C1, Cn, Dn, T, O, I")->capture_default_str();
  app.add_option("--pad", o.pad, "Oversampling of the Fourier volumes (RELION: 2)")->capture_default_str();
  app.add_option("--minres-map,--minres_map", o.minres_map, "Fourier shells below this are not regularised")
      ->capture_default_str();
  app.add_option("--low-resol-join-halves,--low_resol_join_halves", o.low_resol_join_halves,
                 "Average the halves' sums below this resolution (Å; 0: never)")
      ->capture_default_str();
  app.add_option("--solvent-mask,--solvent_mask", o.solvent_mask,
                 "Mask (.mrc, values 0..1) multiplied into the maps each iteration (default: soft sphere of "
                 "--particle-diameter)");
  app.add_flag("--no-flatten-solvent", no_flatten, "Keep the maps' solvent (no mask at all)");
  AddDeprecatedFlag(app, "--flatten_solvent", "(the default)", o.flatten_solvent);
  bool auto_refine = true, split_halves = true;
  AddDeprecatedFlag(app, "--auto_refine", "(what refine3d does)", auto_refine);
  AddDeprecatedFlag(app, "--split_random_halves", "(what refine3d does)", split_halves);
  AddClassificationRangeChecks(app, {{"--ini-high", NonNegative()},
                                     {"--healpix-order", InRange(0, 6)},
                                     {"--auto-local-healpix-order", InRange(1, 8)},
                                     {"--perturb", InRange(0, 1)},
                                     {"--projection-memory", NonNegative()},
                                     {"--pad", InRange(1, 3)},
                                     {"--minres-map", NonNegative()},
                                     {"--low-resol-join-halves", NonNegative()}});
  if (int rc = ParseCommandLine(app, argc, argv); rc >= 0) return rc;
  ApplyClassificationFlags(&flags, &o);
  o.flatten_solvent = !no_flatten;
  if (!o.continue_from.empty() && !FileExists(o.continue_from))
    throw IoError(o.continue_from + ": no such file (--continue)");
  // A continued run keeps its E-step limit unless it is given again (as relion_refine --continue).
  if (!o.continue_from.empty() && !app.count("--strict-highres-exp"))
    o.strict_highres_exp = ReadStrictHighresExp(o.continue_from);
  o.Check();
  if (o.continue_from.empty()) {
    if (!FileExists(o.input)) throw IoError(o.input + ": no such particles STAR file");
    if (!FileExists(o.reference)) throw IoError(o.reference + ": no such reference map (--ref)");
  }
  std::unique_ptr<Communicator> comm = MakeCommunicator();
  std::string command_line;
  for (int i = 0; i < argc; ++i) command_line += (i ? " " : "") + std::string(argv[i]);
  const auto t0 = std::chrono::steady_clock::now();
  RunOnAllRanks(*comm, "emkit refine3d", [&] {
    std::unique_ptr<JobFolder> folder;
    if (comm->is_root()) {
      JobFolderOptions f;
      f.dir = o.out_dir;
      f.inputs = {o.input, o.reference, o.continue_from, o.solvent_mask};
      f.resume = !o.continue_from.empty();
      f.resume_from = o.continue_from;
      f.output_patterns = {"run_it*",       "run_class001*",     "run_half*", "run_model.star",
                           "run_data.star", "run_sampling.star", "run_fsc.*"};
      f.overwrite = flags.overwrite;
      folder = OpenJobFolder(app, argc, argv, f);
    }
    const Refine3dResult r = RunRefine3d(o, *comm, command_line);
    if (comm->is_root()) {
      if (o.write_png && !r.fsc.empty() && r.converged)
        WriteFscPlot(JoinPath(o.out_dir, "run_fsc.png"), r.fsc, r.box, r.pixel_size, r.final_resolution);
      folder->Complete();
      const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (!flags.common.quiet) {
        if (r.converged)
          std::printf("refine3d: converged in %d iterations, resolution %.2f Å (half-map FSC 0.143), map %s, %.0f s\n",
                      r.last_iteration, r.final_resolution, r.final_map.c_str(), sec);
        else
          std::printf("refine3d: not converged after iteration %d, resolution %.2f Å, %.0f s\n", r.last_iteration,
                      r.final_resolution, sec);
      }
    }
  });
  return 0;
}

EMKIT_REGISTER_COMMAND(RunRefine3dCommand, "refine3d",
                       "Gold-standard 3D auto-refinement from a reference map (two halves, FSC, threads x MPI)");

}  // namespace emkit
