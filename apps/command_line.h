// Shared plumbing of the emkit subcommands: common options, the command table, effective
// options written into each job's output folder, and the single catch that turns errors
// into one line on stderr and a non-zero exit status.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "core/job_folder.h"

namespace emkit {

struct CommonOptions {
  int threads = 0;  // 0 = all cores
  unsigned long long seed = 42;
  bool verbose = false;
  bool quiet = false;
};

// Adds --threads, --seed, --verbose, --quiet.
void AddCommonOptions(CLI::App& app, CommonOptions* opt);
// Resolves threads (0 -> cores) and applies them to every pool (emkit, OpenMP, OpenCV, torch)
// and sets the log level. Returns the thread count.
int ApplyCommonOptions(CommonOptions* opt);

// Writes the parsed options of `app` (TOML, every option with its value or default) and the
// command line to <dir>/emkit_<name>_options.toml, atomically.
void WriteEffectiveOptions(const CLI::App& app, const std::string& dir, int argc, char** argv);

// The text WriteEffectiveOptions writes.
std::string EffectiveOptionsText(const CLI::App& app, int argc, char** argv);
// The command's name, e.g. "class2d" for the app "emkit class2d".
std::string CommandName(const CLI::App& app);
// Adds --overwrite (remove an earlier job's files from the output folder first).
void AddOverwriteOption(CLI::App& app, bool* overwrite);
// Opens the output folder of this command under the job folder rule (core/job_folder.h), with
// the effective options of `app`; o.command and o.options_text are filled in here.
std::unique_ptr<JobFolder> OpenJobFolder(const CLI::App& app, int argc, char** argv, JobFolderOptions o);
// The allowed range of a numeric option, by name ("--box"). AddRangeChecks applies each to the
// option of that name in `app`, its subcommands and option groups (every one that has it), and
// throws InternalError for a name no option has. One table per command, after its options.
struct RangeCheck {
  std::string option;
  CLI::Validator check;
};
void AddRangeChecks(CLI::App& app, const std::vector<RangeCheck>& checks);
// Validators with plain messages ("--snr: must be > 0 (got -1)"); CLI11 2.1's own print their
// bounds as 309-digit numbers.
CLI::Validator Positive();
CLI::Validator NonNegative();
CLI::Validator InRange(double lo, double hi);
// Sizes that allocate: at most this many pixels along an image axis.
constexpr int kMaxImageSide = 65536;

// Parses argv; returns -1 to go on, or an exit status (help printed: 0, bad options: 2).
int ParseCommandLine(CLI::App& app, int argc, char** argv);

struct Command {
  const char* name;
  const char* summary;
  int (*run)(int argc, char** argv);  // argv[0] is "emkit <name>"
};
// All registered commands, sorted by name.
std::vector<Command> Commands();
// Called by EMKIT_REGISTER_COMMAND at static initialisation.
bool RegisterCommand(const Command& command);

// Entry point of the emkit binary (also used by tests).
int RunEmkit(int argc, char** argv);

}  // namespace emkit

// In apps/<name>_command.cc: EMKIT_REGISTER_COMMAND(RunInfo, "info", "Summarise files");
#define EMKIT_REGISTER_COMMAND(fn, name, summary) \
  static const bool emkit_registered_##fn = ::emkit::RegisterCommand({name, summary, &fn})
