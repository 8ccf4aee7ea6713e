// emkit pipeline: run a schedule of jobs into a project folder (pipeline/schedule.h), show its
// state, write Slurm scripts, bundle a job for re-running elsewhere.
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "apps/command_line.h"
#include "core/error.h"
#include "core/files.h"
#include "pipeline/bundle.h"
#include "pipeline/runner.h"
#include "pipeline/schedule.h"

namespace emkit {
namespace {

std::string SelfPath() {
  std::vector<char> exe(4096);
  const ssize_t n = readlink("/proc/self/exe", exe.data(), exe.size() - 1);
  if (n <= 0) throw IoError("/proc/self/exe: cannot find the emkit binary");
  return std::string(exe.data(), static_cast<std::size_t>(n));
}

// The schedule's project folder: -o, else its `project` (relative to the schedule's folder).
std::string ProjectOf(const Schedule& s, const std::string& out) {
  if (!out.empty()) return out;
  if (s.project.empty())
    throw InvalidInputError(s.path + ": no project folder (give project = \"...\" in the schedule, or -o)");
  if (s.project[0] == '/') return s.project;
  const std::string dir = ParentDir(s.path);
  return dir.empty() ? s.project : JoinPath(dir, s.project);
}

int RunPipelineCommand(int argc, char** argv) {
  CLI::App app{"Run a schedule of emkit jobs into a project folder (one folder per job)", "emkit pipeline"};
  app.require_subcommand(1);
  std::string schedule_path, out, from, submit, slurm_template;
  std::vector<std::string> only;
  bool dry_run = false, no_submit = false;
  CommonOptions common;
  CLI::App* run = app.add_subcommand("run", "Run the jobs that are not done (or changed, or failed) in order");
  AddInput(*run, schedule_path, "Schedule (TOML, [[job]] tables)", "schedule")->required();
  AddOutput(*run, out, "Project folder (default: the schedule's `project`, beside the schedule)");
  run->add_option("--from", from, "Re-run this job (name, jobNNN or folder) and every later one");
  run->add_option("--only", only, "Run only these jobs (their inputs must be done)");
  run->add_flag("--dry-run,-n", dry_run, "Print what would run, run nothing");
  run->add_option("--submit", submit, "Submit to a batch system instead of running here: slurm")
      ->check(CLI::IsMember({"slurm"}));
  run->add_option("--slurm-template", slurm_template,
                  "sbatch script template ({{name}} {{folder}} {{ntasks}} {{cpus}} {{project}} {{command}})");
  run->add_flag("--no-submit", no_submit, "With --submit: write the scripts, do not call sbatch");
  AddCommonOptions(*run, &common);
  CLI::App* status = app.add_subcommand("status", "Each job's state, runtime and main result");
  AddInput(*status, schedule_path, "Schedule (TOML)", "schedule")->required();
  AddOutput(*status, out, "Project folder (default: the schedule's `project`)");
  status->add_option("--seed", common.seed, "The --seed the jobs were run with (pipeline run --seed)");
  std::string bundle_job, bundle_dir;
  CLI::App* bundle =
      app.add_subcommand("bundle",
                         "Copy what a job needs to be re-run elsewhere (its STAR inputs with only the files they name, "
                         "rewritten to relative paths; its job file; rerun.sh) into DIR");
  bundle->add_option("job", bundle_job, "The job's folder in its project (e.g. project/Class2D/job014)")->required();
  bundle->add_option("dir", bundle_dir, "New folder for the bundle")->required();
  if (int rc = ParseCommandLine(app, argc, argv); rc >= 0) return rc;
  if (bundle->parsed()) {
    const BundleResult r = BundleJob(bundle_job, bundle_dir);
    std::printf("bundle %s: %d files, %.1f MB (%d STAR inputs, %d file names rewritten); re-run with %s/rerun.sh\n",
                r.dir.c_str(), r.files, r.bytes / 1e6, r.star_files, r.rewritten_names, r.dir.c_str());
    return 0;
  }

  // The light commands are known without loading the plugin (~170 MB of libraries).
  std::vector<std::string> light;
  for (const auto& c : Commands()) light.push_back(c.name);
  Schedule schedule;
  try {
    schedule = ReadSchedule(schedule_path, light);
  } catch (const InvalidInputError&) {
    schedule = ReadSchedule(schedule_path, AllCommandNames());
  }
  const std::string project = ProjectOf(schedule, out);
  // --seed: the seed of every emkit job that does not set its own.
  if ((run->parsed() && run->count("--seed")) || (status->parsed() && status->count("--seed")))
    for (auto& job : schedule.jobs) {
      bool has = job.external();
      for (const auto& o : job.options) has |= o.name == "seed" || o.name == "--seed";
      if (!has) job.options.push_back({"seed", {std::to_string(common.seed)}, 0});
    }
  if (status->parsed()) {
    std::printf("%s", FormatStatus(PipelineStatus(schedule, project)).c_str());
    return 0;
  }
  PipelineOptions o;
  o.project = project;
  o.emkit = SelfPath();
  o.threads = common.threads;
  o.from = from;
  o.only = only;
  o.dry_run = dry_run;
  if (!from.empty()) schedule.Index(from);
  if (!submit.empty()) {
    const std::string script =
        WriteSlurmScripts(schedule, o, slurm_template.empty() ? "" : ReadTextFile(slurm_template));
    if (no_submit || dry_run) {
      std::printf("Slurm scripts written; submit them with: bash %s\n", script.c_str());
      return 0;
    }
    const int rc = std::system(("bash " + ShellQuote(script)).c_str());
    return rc == 0 ? 0 : 1;
  }
  return RunPipeline(schedule, o);
}

}  // namespace

EMKIT_REGISTER_COMMAND(RunPipelineCommand, "pipeline", "Run a schedule of jobs into a project folder (TOML)");

}  // namespace emkit
