// Helpers shared by the test executables.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/files.h"
#include "io/star.h"

namespace emkit::testing {

// ../shared/data next to the checkout, or $EMKIT_SHARED_DATA; empty when absent.
inline std::string SharedDataDir() {
  if (const char* env = std::getenv("EMKIT_SHARED_DATA")) return env;
  const std::string dir = std::string(EMKIT_SOURCE_DIR) + "/../shared/data";
  return std::filesystem::exists(dir) ? dir : std::string();
}

// Removes the folders FreshDir made for a test when that test passes (a failed test's folders
// stay for inspection; EMKIT_KEEP_TEST_DIRS=1 keeps them all).
class TestDirCleaner : public ::testing::EmptyTestEventListener {
 public:
  static TestDirCleaner& Instance() {
    static TestDirCleaner* cleaner = [] {
      auto* c = new TestDirCleaner;
      ::testing::UnitTest::GetInstance()->listeners().Append(c);  // gtest owns it
      return c;
    }();
    return *cleaner;
  }
  void Add(const std::string& dir) { dirs_.push_back(dir); }
  void OnTestEnd(const ::testing::TestInfo& info) override {
    const char* keep = std::getenv("EMKIT_KEEP_TEST_DIRS");
    if (info.result()->Passed() && !(keep && *keep && std::string(keep) != "0"))
      for (const auto& d : dirs_) {
        std::error_code ec;
        std::filesystem::remove_all(d, ec);
      }
    dirs_.clear();
  }

 private:
  std::vector<std::string> dirs_;
};

// A fresh, empty folder for one test, removed after it if it passes.
inline std::string FreshDir(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string dir = ::testing::TempDir() + "/emkit_" +
                    (info ? std::string(info->test_suite_name()) + "_" + info->name() : name) + "_" + name + "_" +
                    std::to_string(::getpid());  // two builds' test runs at once must not share folders
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  if (info) TestDirCleaner::Instance().Add(dir);
  return dir;
}

struct CommandResult {
  int status = -1;  // exit status
  std::string out, err;
};

// Runs a shell command, capturing stdout and stderr.
inline CommandResult RunCommand(const std::string& command) {
  static int counter = 0;
  const std::string base =
      ::testing::TempDir() + "/emkit_cmd_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  const int raw = std::system((command + " >" + base + ".out 2>" + base + ".err").c_str());
  CommandResult r;
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  auto slurp = [](const std::string& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  r.out = slurp(base + ".out");
  r.err = slurp(base + ".err");
  std::remove((base + ".out").c_str());
  std::remove((base + ".err").c_str());
  return r;
}

// Runs the emkit binary with the given arguments.
inline CommandResult RunEmkitBinary(const std::string& args) {
  return RunCommand(std::string(EMKIT_BINARY) + " " + args);
}

// `table` without the columns whose label `drop(label)` is true for: a STAR with a column
// missing, as bad input.
template <class Drop>
StarTable WithoutColumns(const StarTable& table, Drop drop) {
  StarTable out(table.name());
  std::vector<std::size_t> keep;
  for (std::size_t c = 0; c < table.labels().size(); ++c)
    if (!drop(table.labels()[c])) {
      out.AddColumn(table.labels()[c]);
      keep.push_back(c);
    }
  for (std::size_t r = 0; r < table.num_rows(); ++r) {
    std::vector<std::string> row;
    for (std::size_t c : keep) row.push_back(table.row(r)[c]);
    out.AddRow(row);
  }
  return out;
}

// Runs emkit with `args` on one thread into dir/t1 and on two into dir/t2; each of `files` must
// come out the same bit for bit. Call it in ASSERT_NO_FATAL_FAILURE: a run that fails stops the test.
inline void ExpectSameOnOneAndTwoThreads(const std::string& args, const std::string& dir,
                                         const std::vector<std::string>& files) {
  auto one = RunEmkitBinary(args + " --threads 1 -o " + dir + "/t1");
  ASSERT_EQ(one.status, 0) << one.err;
  auto two = RunEmkitBinary(args + " --threads 2 -o " + dir + "/t2");
  ASSERT_EQ(two.status, 0) << two.err;
  for (const std::string& f : files) EXPECT_EQ(ReadTextFile(dir + "/t1/" + f), ReadTextFile(dir + "/t2/" + f)) << f;
}

}  // namespace emkit::testing

#define EMKIT_REQUIRE_SHARED_DATA(var)                       \
  const std::string var = ::emkit::testing::SharedDataDir(); \
  if (var.empty()) GTEST_SKIP() << "../shared/data is absent: skipping real-data test"
