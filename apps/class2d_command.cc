// emkit class2d: 2D classification by regularised maximum likelihood (RELION's Class2D).
// Under `mpirun -np N emkit class2d ...` the particles are split across the ranks.
#include <cstdio>
#include <filesystem>
#include <regex>
#include <sstream>

#include "apps/classification_flags.h"
#include "apps/command_line.h"
#include "core/error.h"
#include "core/files.h"
#include "refine/class2d.h"
#include "refine/class2d_inputs.h"
#include "refine/class2d_model.h"
#include "refine/communicator.h"

namespace emkit {
namespace {

// Continuing from iteration N in its own folder: the job's iterations after N belong to the run
// being redone and would otherwise stay, newer-looking than the continuation's. Only files the
// job's list names go (never another program's, e.g. RELION's later iterations).
void DiscardLaterIterations(const std::string& out_dir, const std::string& continue_from) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::weakly_canonical(fs::absolute(out_dir), ec) !=
      fs::weakly_canonical(fs::absolute(continue_from), ec).parent_path())
    return;
  std::smatch m;
  const std::string base = fs::path(continue_from).filename().string();
  if (!std::regex_search(base, m, std::regex("_it([0-9]+)_"))) return;
  const int from = std::stoi(m[1]);
  const std::string list = JobFolder::FilesList(out_dir, "class2d");
  if (!FileExists(list)) return;
  std::istringstream in(ReadTextFile(list));
  const std::regex later("^run_it([0-9]+)_[^/]*$");
  for (std::string name; std::getline(in, name);)
    if (std::regex_match(name, m, later) && std::stoi(m[1]) > from) fs::remove(fs::path(out_dir) / name, ec);
}

}  // namespace

int RunClass2dCommand(int argc, char** argv) {
  CLI::App app("2D classification by regularised maximum likelihood (RELION Class2D); runs under mpirun too", argv[0]);
  Class2dOptions o;
  ClassificationFlags flags;
  bool no_center = false;
  AddClassificationOptions(app, &o, &flags, "Output folder (run_itNNN_* files)");
  app.add_option("--psi-step,--psi_step", o.psi_step, "In-plane angular step (degrees)")->capture_default_str();
  app.add_flag("--no-center-classes", no_center, "Do not re-centre class averages on their centre of mass");
  app.add_option("--references", o.references, "Starting class images (.mrcs with K sections) instead of random");
  app.add_option("--initial-lowpass", o.initial_lowpass,
                 "Resolution (Å) of the random-start averages (0: RELION's 0.07 x box Fourier pixels)")
      ->capture_default_str();
  AddClassificationRangeChecks(app, {{"--psi-step", InRange(1e-3, 360.0)}, {"--initial-lowpass", NonNegative()}});
  if (int rc = ParseCommandLine(app, argc, argv); rc >= 0) return rc;
  ApplyClassificationFlags(&flags, &o);
  o.center_classes = !no_center;
  // A continued run keeps its sampling and mask unless they are given again.
  const std::string& cont = o.continue_from;
  if (cont.size() > 15 && cont.substr(cont.size() - 15) == "_optimiser.star") {
    const OptimiserState prev = ReadOptimiserStar(cont);
    if (!app.count("--psi-step")) o.psi_step = prev.psi_step;
    if (!app.count("--strict-highres-exp")) o.strict_highres_exp = prev.strict_highres_exp;
    if (!app.count("--offset-range")) o.offset_range = prev.offset_range_px;
    if (!app.count("--offset-step")) o.offset_step = prev.offset_step_px;
    if (!app.count("--particle-diameter")) o.particle_diameter = prev.particle_diameter;
    if (!app.count("--zero-mask")) o.zero_mask = prev.zero_mask;
    if (!app.count("--only-flip-phases")) o.only_flip_phases = prev.only_flip_phases;
    if (!app.count("--ctf-intact-first-peak")) o.ctf_intact_first_peak = prev.ctf_intact_first_peak;
    if (!app.count("--no-ctf")) o.ctf = prev.ctf;
    if (!app.count("--incr-size")) o.incr_size = prev.incr_size;
    if (!app.count("--tau2-fudge")) o.tau2_fudge = prev.tau2_fudge;
    // As relion_refine --continue: the corrections of the run go on (a flag can only add one).
    o.norm_correction = o.norm_correction || prev.norm_correction;
    o.scale_correction = o.scale_correction || prev.scale_correction;
  }
  o.Check();
  CheckClass2dInputs(o);
  std::unique_ptr<Communicator> comm = MakeCommunicator();
  std::string command_line;
  for (int i = 0; i < argc; ++i) command_line += (i ? " " : "") + std::string(argv[i]);
  RunOnAllRanks(*comm, "emkit class2d", [&] {
    std::unique_ptr<JobFolder> folder;
    if (comm->is_root()) {
      JobFolderOptions f;
      f.dir = o.out_dir;
      f.inputs = {o.input, o.references, cont};
      f.output_patterns = {"run_it*"};
      f.overwrite = flags.overwrite;
      f.resume = !cont.empty();
      f.resume_from = cont;
      folder = OpenJobFolder(app, argc, argv, f);
      if (!cont.empty()) DiscardLaterIterations(o.out_dir, cont);
    }
    const Class2dResult r = RunClass2d(o, *comm, command_line);
    if (comm->is_root()) {
      folder->Complete();
      if (!flags.common.quiet)
        std::printf("class2d: iterations %d-%d done, last model %s\n", r.first_iteration, r.last_iteration,
                    r.last_model_star.c_str());
    }
  });
  return 0;
}

EMKIT_REGISTER_COMMAND(RunClass2dCommand, "class2d",
                       "2D classification (regularised maximum likelihood, threads x MPI)");

}  // namespace emkit
