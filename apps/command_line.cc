#include "apps/command_line.h"

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "core/parallel.h"
#include "io/micrograph.h"
#include "models/device.h"

namespace emkit {

void AddCommonOptions(CLI::App& app, CommonOptions* opt) {
  app.add_option("--threads,-j", opt->threads, "Threads for every pool (emkit, OpenMP, OpenCV, torch); 0 = all cores")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--seed", opt->seed, "Seed of every random choice")->capture_default_str();
  app.add_flag("--verbose,-v", opt->verbose, "Debug messages");
  app.add_flag("--quiet,-q", opt->quiet, "Only warnings and errors");
}

int ApplyCommonOptions(CommonOptions* opt) {
  if (opt->threads <= 0) opt->threads = std::max(1u, std::thread::hardware_concurrency());
  SetGlobalThreads(opt->threads);
  SetImageLibraryThreads(opt->threads);
  SetTorchThreads(opt->threads);
  SetLogLevel(opt->verbose ? LogLevel::kDebug : opt->quiet ? LogLevel::kWarning : LogLevel::kInfo);
  return opt->threads;
}

void WriteEffectiveOptions(const CLI::App& app, const std::string& dir, int argc, char** argv) {
  std::ostringstream out;
  out << "# " << app.get_name() << ": effective options (defaults included)\n# command line:";
  for (int i = 0; i < argc; ++i) out << " " << argv[i];
  out << "\n" << app.config_to_str(true, false);
  CreateDirectories(dir);
  std::string name = app.get_name();
  const auto space = name.rfind(' ');
  if (space != std::string::npos) name = name.substr(space + 1);
  WriteTextFile(JoinPath(dir, "emkit_" + name + "_options.toml"), out.str());
}

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
  return -1;
}

namespace {
std::vector<Command>& Registry() {
  static std::vector<Command> commands;
  return commands;
}

void PrintUsage() {
  std::printf("emkit: single-particle cryo-EM toolkit\n\nUsage: emkit <command> [options]\n\nCommands:\n");
  for (const auto& c : Commands()) std::printf("  %-12s %s\n", c.name, c.summary);
  std::printf("\n'emkit <command> --help' lists every option of a command with its default.\n");
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

int RunEmkit(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h" || std::string(argv[1]) == "help") {
    PrintUsage();
    return argc < 2 ? 2 : 0;
  }
  if (std::string(argv[1]) == "--version") {
    std::printf("emkit 0.1.0\n");
    return 0;
  }
  const std::string name = argv[1];
  for (const auto& c : Commands()) {
    if (name != c.name) continue;
    std::string full = std::string("emkit ") + c.name;
    std::vector<char*> args(argv + 1, argv + argc);
    args[0] = full.data();
    try {
      return c.run(static_cast<int>(args.size()), args.data());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "emkit %s: error: %s\n", c.name, e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "emkit: error: unknown command '%s' (see 'emkit --help')\n", name.c_str());
  return 2;
}

}  // namespace emkit
