// The command-line style every emkit command shares: -i/--in and -o/--out, --threads (0 = all
// cores) and --seed, --help, RELION's spellings, and the old spellings of renamed options, which
// still parse and warn. EMKIT_PARSE_ONLY=1 makes a command stop after parsing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "apps/command_line.h"
#include "core/files.h"
#include "tests/testing.h"

namespace emkit {
namespace {
using testing::CommandResult;
using testing::RunEmkitBinary;

bool Has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// `name` as an option name in a help text (not a prefix of a longer one).
bool HasName(const std::string& help, const std::string& name) {
  return std::regex_search(help, std::regex("[\\s,]" + name + "([\\s,=]|$)"));
}

// The commands `emkit --help` lists.
std::vector<std::string> ListedCommands() {
  const CommandResult r = RunEmkitBinary("--help");
  EXPECT_EQ(r.status, 0) << r.err;
  std::vector<std::string> names;
  std::istringstream in(r.out.substr(r.out.find("Commands:")));
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line) && line.rfind("  ", 0) == 0) {
    std::istringstream words(line);
    std::string name;
    words >> name;
    names.push_back(name);
  }
  return names;
}

// `emkit args` (with parse_only: EMKIT_PARSE_ONLY=1) in this process where the command is linked
// into it or its plugin (which then loads once, not per call), else by the binary.
CommandResult Emkit(const std::string& args, bool parse_only = false) {
  static const bool plugin = [] {
    const std::string binary = EMKIT_BINARY;
    setenv("EMKIT_PLUGIN", (binary.substr(0, binary.rfind('/') + 1) + "libemkit_plugin.so").c_str(), 0);
    std::string help = "--help";
    char* argv[] = {help.data(), help.data()};
    ::testing::internal::CaptureStdout();
    const int status = RunEmkit(2, argv);  // loads the plugin
    ::testing::internal::GetCapturedStdout();
    return status == 0;
  }();
  EXPECT_TRUE(plugin);
  std::vector<std::string> words = {"emkit"};
  std::istringstream in(args);
  for (std::string w; in >> w;) words.push_back(w);
  bool here = false;
  for (const auto& c : Commands()) here |= words[1] == c.name;
  if (!here)
    return testing::RunCommand((parse_only ? "EMKIT_PARSE_ONLY=1 " : "") + std::string(EMKIT_BINARY) + " " + args);
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  if (parse_only) setenv("EMKIT_PARSE_ONLY", "1", 1);
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  CommandResult r;
  r.status = RunEmkit(static_cast<int>(argv.size()), argv.data());
  r.err = ::testing::internal::GetCapturedStderr();
  r.out = ::testing::internal::GetCapturedStdout();
  unsetenv("EMKIT_PARSE_ONLY");
  return r;
}
CommandResult ParseOnly(const std::string& args) { return Emkit(args, true); }

// Per command: the help to read (simulate's options are on its subcommands), whether it writes an
// output, and a minimal command line that names its input with -i and its output with -o.
struct Style {
  std::vector<std::string> helps;
  bool output = true;
  std::string minimal;
};
std::map<std::string, Style> Styles(const std::string& dir) {
  return {
      {"class2d", {{"class2d"}, true, "class2d -i p.star -o " + dir + "/c2d"}},
      {"class3d", {{"class3d"}, true, "class3d -i p.star -o " + dir + "/c3d"}},
      {"ctf", {{"ctf"}, true, "ctf -i m.mrc -o " + dir + "/ctf"}},
      {"eval-picks", {{"eval-picks"}, true, "eval-picks -i p --truth t -o " + dir + "/ev"}},
      {"extract", {{"extract"}, true, "extract -i m.star -c c --box 64 -o " + dir + "/ex"}},
      {"fsc", {{"fsc"}, true, "fsc -i a.mrc b.mrc -o " + dir + "/fsc"}},
      {"info", {{"info"}, false, "info -i a.mrc"}},
      {"pick", {{"pick"}, true, "pick -i m.mrc --diameter 100 -o " + dir + "/pk"}},
      {"pipeline", {{"pipeline run", "pipeline status"}, true, "pipeline run -i s.toml -o " + dir + "/pp"}},
      {"postprocess", {{"postprocess"}, true, "postprocess -i h_half1.mrc -o " + dir + "/post"}},
      {"reconstruct", {{"reconstruct"}, true, "reconstruct -i p.star -o " + dir + "/map.mrc"}},
      {"refine3d", {{"refine3d"}, true, "refine3d -i p.star -o " + dir + "/r3d"}},
      {"simulate",
       {{"simulate", "simulate particles", "simulate micrographs"},
        true,
        "simulate particles -i " + dir + "/map.mrc -o " + dir + "/sim"}},
      {"train", {{"train"}, true, "train -i m -c c -o " + dir + "/tr"}},
  };
}

TEST(CliStyle, EveryCommandHasTheSharedOptions) {
  const std::string dir = testing::FreshDir("style");
  WriteTextFile(dir + "/map.mrc", "");  // exists (simulate checks that before parsing ends)
  const auto styles = Styles(dir);
  const std::vector<std::string> commands = ListedCommands();
  ASSERT_GE(commands.size(), 9u);
  for (const auto& name : commands) {
    SCOPED_TRACE(name);
    const auto it = styles.find(name);
    ASSERT_NE(it, styles.end()) << name << ": a command this test does not know (add it to Styles)";
    std::string help;
    for (const auto& h : it->second.helps) {
      const CommandResult r = Emkit(h + " --help");
      EXPECT_EQ(r.status, 0) << h << " --help: " << r.err;
      help += r.out;
    }
    for (const char* option : {"-i", "--in", "--i"}) EXPECT_TRUE(HasName(help, option)) << option << "\n" << help;
    if (it->second.output) {
      for (const char* option : {"-o", "--out", "--o"}) EXPECT_TRUE(HasName(help, option)) << option << "\n" << help;
    }
    for (const char* option : {"--threads", "-j", "--j", "--seed"})
      EXPECT_TRUE(HasName(help, option)) << option << "\n" << help;
    // One default: 0 = all cores.
    EXPECT_TRUE(std::regex_search(help, std::regex("--threads[^\\n]*=0\\s"))) << help;
    const CommandResult r = ParseOnly(it->second.minimal);
    EXPECT_EQ(r.status, 0) << it->second.minimal << ": " << r.err;
    EXPECT_FALSE(Has(r.err, "warning")) << r.err;
  }
}

TEST(CliStyle, HelpListsEveryPickingMethod) {
  const CommandResult top = RunEmkitBinary("--help");
  ASSERT_EQ(top.status, 0);
  std::string pick_line;
  std::istringstream in(top.out);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("  pick ", 0) == 0) pick_line = line;
  for (const char* method : {"template", "LoG", "CNN"}) EXPECT_TRUE(Has(pick_line, method)) << pick_line;
  const CommandResult pick = RunEmkitBinary("pick --help");
  ASSERT_EQ(pick.status, 0);
  for (const char* method : {"template", "Laplacian of Gaussian", "CNN"})
    EXPECT_TRUE(Has(pick.out.substr(0, pick.out.find("Options")), method)) << pick.out;
}

TEST(CliStyle, RelionSpellingsParseWithoutWarning) {
  const std::string dir = testing::FreshDir("relion");
  const CommandResult r = ParseOnly("class2d --i p.star --o " + dir +
                                    "/c2d --K 3 --tau2_fudge 2 --particle_diameter 200 --psi_step 10 --offset_range 5 "
                                    "--offset_step 1 --iter 2 --j 2 --zero_mask --ctf_intact_first_peak");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(Has(r.err, "warning")) << r.err;
  for (const char* value : {"K=3", "tau2-fudge=2", "particle-diameter=200", "psi-step=10", "offset-range=5",
                            "offset-step=1", "iter=2", "threads=2", "zero-mask=true"})
    EXPECT_TRUE(Has(r.out, value)) << value << "\n" << r.out;
}

TEST(CliStyle, OldSpellingsStillParseAndWarn) {
  const std::string dir = testing::FreshDir("old");
  struct Case {
    std::string command, old_option, new_option, effective;  // effective: the new option's value
  };
  const std::string tr = "train -i m -c c -o " + dir + "/tr ";
  const std::string ex = "extract -i m.star --box 64 -o " + dir + "/ex ";
  const std::string pk = "pick -i m.mrc --diameter 100 -o " + dir + "/pk ";
  const std::string ev = "eval-picks -i p --truth t -o " + dir + "/ev ";
  const std::vector<Case> cases = {
      {tr, "--coord-format star", "--coords-format", "coords-format=\"star\""},
      {tr, "--binned-diameter 20", "--binned-diameter-px", "binned-diameter-px=20"},
      {tr, "--local-norm 3", "--local-norm-diameters", "local-norm-diameters=3"},
      {tr, "--invert", "--invert-contrast", "invert-contrast=true"},
      {ex + "-c c ", "--coordinates-format box", "--coords-format", "coords-format=\"box\""},
      {ex, "--coordinates cdir", "--coords", "coords=\"cdir\""},
      {pk, "--diameter-px 30", "--binned-diameter-px", "binned-diameter-px=30"},
      {ev, "--diameter 50", "--diameter-px", "diameter-px=50"},
      {ev, "--radius 12", "--radius-px", "radius-px=12"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.command + c.old_option);
    CommandResult r = ParseOnly(c.command + c.old_option);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(Has(
        r.err, "warning: " + c.old_option.substr(0, c.old_option.find(' ')) + " is deprecated; use " + c.new_option))
        << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;  // one line
    EXPECT_TRUE(Has(r.out, c.effective)) << r.out;
    // The new spelling: the same value, no warning; the old one is not in --help.
    const std::string value =
        c.old_option.find(' ') == std::string::npos ? "" : c.old_option.substr(c.old_option.find(' '));
    r = ParseOnly(c.command + c.new_option + value);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(r.err.empty()) << r.err;
    EXPECT_TRUE(Has(r.out, c.effective)) << r.out;
    const std::string name = c.command.substr(0, c.command.find(' '));
    const CommandResult help = Emkit(name + " --help");
    EXPECT_TRUE(HasName(help.out, c.new_option)) << help.out;
    EXPECT_FALSE(HasName(help.out, c.old_option.substr(0, c.old_option.find(' ')))) << help.out;
  }
}

TEST(CliStyle, ThreadsZeroSharesTheHostsCoresBetweenItsRanks) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  unsetenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  unsetenv("MPI_LOCALNRANKS");
  EXPECT_EQ(DefaultThreads(), cores);
  setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "2", 1);
  EXPECT_EQ(DefaultThreads(), std::max(1, cores / 2));
  setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "100000", 1);
  EXPECT_EQ(DefaultThreads(), 1);
  unsetenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  setenv("MPI_LOCALNRANKS", "3", 1);
  EXPECT_EQ(DefaultThreads(), std::max(1, cores / 3));
  unsetenv("MPI_LOCALNRANKS");
}

}  // namespace
}  // namespace emkit
