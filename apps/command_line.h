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

// Adds --threads (-j, RELION's --j), --seed, --verbose, --quiet.
void AddCommonOptions(CLI::App& app, CommonOptions* opt);
// Resolves threads (0 -> all cores; under mpirun, the host's cores / the ranks on that host) and
// applies them to every pool (emkit, OpenMP, OpenCV, torch) and sets the log level. Returns the
// thread count.
int ApplyCommonOptions(CommonOptions* opt);
// The threads that --threads 0 means: the cores of this host divided by the MPI ranks on it
// (OMPI_COMM_WORLD_LOCAL_SIZE, MPI_LOCALNRANKS), at least 1.
int DefaultThreads();

// The input and output of every command: -i/--in (RELION: --i) and -o/--out (RELION: --o).
// `more` adds names, comma-separated: another long name ("--micrographs") or a positional one.
constexpr const char* kInputNames = "-i,--in,--i";
constexpr const char* kOutputNames = "-o,--out,--o";
template <typename T>
CLI::Option* AddInput(CLI::App& app, T& value, const std::string& description, const std::string& more = "") {
  return app.add_option(more.empty() ? std::string(kInputNames) : more + "," + kInputNames, value, description);
}
template <typename T>
CLI::Option* AddOutput(CLI::App& app, T& value, const std::string& description) {
  return app.add_option(kOutputNames, value, description);
}

// An old spelling of an option, kept so that scripts keep working: hidden from --help, it sets
// the same value (in the old unit, where that differs), is left out of the effective options,
// and ParseCommandLine prints one warning naming `new_name`.
constexpr const char* kDeprecatedPrefix = "deprecated: use ";
template <typename T>
CLI::Option* AddDeprecatedOption(CLI::App& app, const std::string& old_name, const std::string& new_name, T& value) {
  // old_name: one long name ("--radius")
  return app.add_option(old_name, value, kDeprecatedPrefix + new_name)->group("")->configurable(false);
}
CLI::Option* AddDeprecatedFlag(CLI::App& app, const std::string& old_name, const std::string& new_name, bool& value);

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

// Parses argv; returns -1 to go on, or an exit status (help printed: 0, bad options: 2). Warns
// once for each deprecated spelling used. With EMKIT_PARSE_ONLY=1 in the environment it returns
// 0 after a successful parse, having printed the effective options (checks a command line
// without running it).
int ParseCommandLine(CLI::App& app, int argc, char** argv);

struct Command {
  const char* name;
  const char* summary;
  int (*run)(int argc, char** argv);  // argv[0] is "emkit <name>"
};
// All registered commands, sorted by name.
std::vector<Command> Commands();
// The names of every command, the plugin's included (it is loaded when it can be).
std::vector<std::string> AllCommandNames();
// Called by EMKIT_REGISTER_COMMAND at static initialisation.
bool RegisterCommand(const Command& command);

// Entry point of the emkit binary (also used by tests).
int RunEmkit(int argc, char** argv);

}  // namespace emkit

// In apps/<name>_command.cc: EMKIT_REGISTER_COMMAND(RunInfo, "info", "Summarise files");
#define EMKIT_REGISTER_COMMAND(fn, name, summary) \
  static const bool emkit_registered_##fn = ::emkit::RegisterCommand({name, summary, &fn})
