// Helpers shared by the test executables.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace emkit::testing {

// ../shared/data next to the checkout, or $EMKIT_SHARED_DATA; empty when absent.
inline std::string SharedDataDir() {
  if (const char* env = std::getenv("EMKIT_SHARED_DATA")) return env;
  const std::string dir = std::string(EMKIT_SOURCE_DIR) + "/../shared/data";
  return std::filesystem::exists(dir) ? dir : std::string();
}

// A fresh, empty folder for one test.
inline std::string FreshDir(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string dir = ::testing::TempDir() + "/emkit_" + (info ? std::string(info->test_suite_name()) + "_" + info->name() : name) + "_" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace emkit::testing

#define EMKIT_REQUIRE_SHARED_DATA(var)                                                  \
  const std::string var = ::emkit::testing::SharedDataDir();                            \
  if (var.empty()) GTEST_SKIP() << "../shared/data is absent: skipping real-data test"
