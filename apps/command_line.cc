#include "apps/command_line.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "core/parallel.h"

namespace emkit {

void AddCommonOptions(CLI::App& app, CommonOptions* opt) {
  app.add_option("--threads,-j,--j", opt->threads,
                 "Threads for every pool (emkit, OpenMP, OpenCV, torch); 0 = all cores (under mpirun: the host's "
                 "cores / its ranks)")
      ->capture_default_str()
      ->check(NonNegative());
  app.add_option("--seed", opt->seed, "Seed of every random choice")->capture_default_str();
  app.add_flag("--verbose,-v", opt->verbose, "Debug messages");
  app.add_flag("--quiet,-q", opt->quiet, "Only warnings and errors");
}

CLI::Option* AddDeprecatedFlag(CLI::App& app, const std::string& old_name, const std::string& new_name, bool& value) {
  return app.add_flag(old_name, value, kDeprecatedPrefix + new_name)->group("")->configurable(false);
}

int DefaultThreads() {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"})
    if (const char* v = std::getenv(name)) {
      const int ranks = std::atoi(v);
      if (ranks > 1) return std::max(1, cores / ranks);
    }
  return cores;
}

int ApplyCommonOptions(CommonOptions* opt) {
  if (opt->threads <= 0) opt->threads = DefaultThreads();
  SetGlobalThreads(opt->threads);  // OpenCV and torch follow through their listeners (apps/plugin.cc)
  SetLogLevel(opt->verbose ? LogLevel::kDebug : opt->quiet ? LogLevel::kWarning : LogLevel::kInfo);
  return opt->threads;
}

std::string EffectiveOptionsText(const CLI::App& app, int argc, char** argv) {
  std::ostringstream out;
  out << "# " << app.get_name() << ": effective options (defaults included)\n# command line:";
  for (int i = 0; i < argc; ++i) out << " " << argv[i];
  out << "\n" << app.config_to_str(true, false);
  return out.str();
}

std::string CommandName(const CLI::App& app) {
  std::string name = app.get_name();
  const auto space = name.rfind(' ');
  return space == std::string::npos ? name : name.substr(space + 1);
}

void WriteEffectiveOptions(const CLI::App& app, const std::string& dir, int argc, char** argv) {
  CreateDirectories(dir);
  WriteTextFile(JobFolder::OptionsFile(dir, CommandName(app)), EffectiveOptionsText(app, argc, argv));
}

void AddOverwriteOption(CLI::App& app, bool* overwrite) {
  app.add_flag("--overwrite", *overwrite,
               "Write into an output folder that holds an earlier job's results, removing that job's files first "
               "(only files emkit wrote; never inputs)");
}

std::unique_ptr<JobFolder> OpenJobFolder(const CLI::App& app, int argc, char** argv, JobFolderOptions o) {
  o.command = CommandName(app);
  o.options_text = EffectiveOptionsText(app, argc, argv);
  for (int i = 0; i < argc; ++i) o.command_line += (i ? " " : "") + std::string(argv[i]);
  return std::make_unique<JobFolder>(o);
}

namespace {
CLI::Validator NumberCheck(const std::string& name, const std::function<bool(double)>& ok, const std::string& rule) {
  return CLI::Validator(
      [ok, rule](std::string& text) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(text, v)) return "not a number: " + text;
        return ok(v) ? std::string() : rule + " (got " + text + ")";
      },
      name);
}
std::string Number(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}
}  // namespace

CLI::Validator Positive() {
  return NumberCheck(
      "POSITIVE", [](double v) { return v > 0; }, "must be > 0");
}
CLI::Validator NonNegative() {
  return NumberCheck(
      "NONNEGATIVE", [](double v) { return v >= 0; }, "must be >= 0");
}
CLI::Validator InRange(double lo, double hi) {
  return NumberCheck(
      "[" + Number(lo) + ", " + Number(hi) + "]", [lo, hi](double v) { return v >= lo && v <= hi; },
      "must be in [" + Number(lo) + ", " + Number(hi) + "]");
}

namespace {
int AddRangeCheck(CLI::App* app, const RangeCheck& c) {
  int found = 0;
  if (CLI::Option* o = app->get_option_no_throw(c.option)) {
    bool already = false;  // nameless groups are searched by get_option_no_throw too
    for (const auto& opt : app->get_options()) already |= opt == o;
    if (already) {
      o->check(c.check);
      ++found;
    }
  }
  for (CLI::App* sub : app->get_subcommands([](CLI::App*) { return true; })) found += AddRangeCheck(sub, c);
  return found;
}
}  // namespace

void AddRangeChecks(CLI::App& app, const std::vector<RangeCheck>& checks) {
  for (const auto& c : checks)
    if (AddRangeCheck(&app, c) == 0)
      throw InternalError(app.get_name() + ": range check for unknown option " + c.option);
}

namespace {
// Warns for each deprecated spelling (AddDeprecatedOption) given on the command line, in `app`,
// its option groups and the subcommands that ran.
// The value is also recorded under the new name, for the effective options. Under mpirun only
// rank 0 warns.
bool OtherMpiRank() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMI_RANK"})
    if (const char* v = std::getenv(name)) return std::atoi(v) != 0;
  return false;
}
void WarnDeprecated(CLI::App& app) {
  const std::string prefix = kDeprecatedPrefix;
  for (CLI::Option* o : app.get_options()) {
    if (o->count() == 0 || o->get_description().rfind(prefix, 0) != 0) continue;
    const std::string new_name = o->get_description().substr(prefix.size());
    if (!OtherMpiRank())
      std::fprintf(stderr, "emkit: warning: %s is deprecated; use %s\n", ("--" + o->get_lnames().front()).c_str(),
                   new_name.c_str());
    if (CLI::Option* now = app.get_option_no_throw(new_name); now != nullptr && now->count() == 0)
      now->add_result(o->results());
  }
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
    if (sub->get_name().empty() || sub->parsed()) WarnDeprecated(*sub);
}
}  // namespace

int ParseCommandLine(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    std::printf("%s", app.help().c_str());
    return 0;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "emkit: error: %s (see '%s --help')\n", e.what(), app.get_name().c_str());
    return 2;
  }
  WarnDeprecated(app);
  if (const char* only = std::getenv("EMKIT_PARSE_ONLY"); only && std::string(only) == "1") {
    std::printf("%s", EffectiveOptionsText(app, argc, argv).c_str());
    return 0;
  }
  return -1;
}

namespace {
std::vector<Command>& Registry() {
  static std::vector<Command> commands;
  return commands;
}

// The commands that are not in the binary live in two plugins next to it, each loaded only when
// one of its commands runs (or for the command list), so that the light commands (apps/CMakeLists.txt)
// and every MPI rank map neither plugin's libraries:
//  - libemkit_maps.so: the 3D map commands (class3d, refine3d, postprocess, fsc), whose plots draw
//    with OpenCV's core and imgproc (~10 MB of resident memory);
//  - libemkit_plugin.so: the commands that need LibTorch or OpenCV's codecs (~160 MB).
// EMKIT_PLUGIN names the second; the first is then looked for beside it (EMKIT_MAPS_PLUGIN overrides).
std::string PluginPath(bool maps) {
  const char* env = std::getenv("EMKIT_PLUGIN");
  if (maps) {
    if (const char* m = std::getenv("EMKIT_MAPS_PLUGIN")) return m;
  } else if (env) {
    return env;
  }
  std::string dir;
  if (env) {
    dir = env;
  } else {
    std::vector<char> exe(4096);
    const ssize_t n = readlink("/proc/self/exe", exe.data(), exe.size() - 1);
    if (n > 0) dir.assign(exe.data(), static_cast<std::size_t>(n));
  }
  dir = dir.substr(0, dir.find_last_of('/') + 1);
  return dir + (maps ? EMKIT_MAPS_PLUGIN_FILE : EMKIT_PLUGIN_FILE);
}

// Loads a plugin once; returns an empty string or why it could not be loaded.
std::string LoadOnePlugin(bool maps) {
  static std::string error[2];
  static bool tried[2] = {false, false};
  if (!tried[maps]) {
    tried[maps] = true;
    const std::string path = PluginPath(maps);
    if (dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL) == nullptr) {
      const char* why = dlerror();
      error[maps] = path + ": " + (why ? why : "cannot load");
    }
  }
  return error[maps];
}

// Loads both plugins; returns why either could not be loaded (empty: both loaded).
std::string LoadPlugin() {
  std::string why = LoadOnePlugin(true);
  const std::string heavy = LoadOnePlugin(false);
  if (!heavy.empty()) why += (why.empty() ? "" : "; ") + heavy;
  return why;
}

const Command* FindCommand(const std::string& name) {
  for (const auto& c : Registry())
    if (name == c.name) return &c;
  return nullptr;
}

void PrintUsage() {
  const std::string plugin_error = LoadPlugin();
  std::printf("emkit: single-particle cryo-EM toolkit\n\nUsage: emkit <command> [options]\n\nCommands:\n");
  for (const auto& c : Commands()) std::printf("  %-12s %s\n", c.name, c.summary);
  std::printf("\n'emkit <command> --help' lists every option of a command with its default.\n");
  if (!plugin_error.empty())
    std::printf("(the commands of a plugin that is not loadable are missing: %s)\n", plugin_error.c_str());
}

}  // namespace

bool RegisterCommand(const Command& command) {
  Registry().push_back(command);
  return true;
}

std::vector<Command> Commands() {
  std::vector<Command> c = Registry();
  std::sort(c.begin(), c.end(), [](const Command& a, const Command& b) { return std::string(a.name) < b.name; });
  return c;
}

std::vector<std::string> AllCommandNames() {
  LoadPlugin();
  std::vector<std::string> names;
  for (const auto& c : Commands()) names.push_back(c.name);
  return names;
}

int RunEmkit(int argc, char** argv) {
  InstallTempFileCleanup();
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h" || std::string(argv[1]) == "help") {
    PrintUsage();
    return argc < 2 ? 2 : 0;
  }
  if (std::string(argv[1]) == "--version") {
    std::printf("emkit 0.1.0\n");
    return 0;
  }
  const std::string name = argv[1];
  const Command* command = FindCommand(name);
  std::string plugin_error;
  if (command == nullptr) {
    plugin_error = LoadOnePlugin(true);
    command = FindCommand(name);
  }
  if (command == nullptr) {
    const std::string heavy = LoadOnePlugin(false);
    if (!heavy.empty()) plugin_error += (plugin_error.empty() ? "" : "; ") + heavy;
    command = FindCommand(name);
  }
  if (command != nullptr) {
    // A copy: a command that loads the plugin (pipeline) adds to the table this points into.
    const Command c = *command;
    command = &c;
    std::string full = std::string("emkit ") + command->name;
    std::vector<char*> args(argv + 1, argv + argc);
    args[0] = full.data();
    try {
      return command->run(static_cast<int>(args.size()), args.data());
    } catch (const std::exception& e) {
      // One line: a library's exception (torch's c10::Error) may carry a backtrace after it.
      std::string message = e.what();
      const auto backtrace = message.find("\nException raised from");
      if (backtrace != std::string::npos) message.resize(backtrace);
      std::fprintf(stderr, "emkit %s: error: %s\n", command->name, message.c_str());
      return 1;
    }
  }
  if (!plugin_error.empty())
    std::fprintf(stderr, "emkit: error: unknown command '%s' (a plugin with more commands cannot be loaded: %s)\n",
                 name.c_str(), plugin_error.c_str());
  else
    std::fprintf(stderr, "emkit: error: unknown command '%s' (see 'emkit --help')\n", name.c_str());
  return 2;
}

}  // namespace emkit
