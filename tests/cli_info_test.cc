// The command line: dispatch, help, bad options, and `emkit info` over every real file.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/image.h"
#include "io/mrc.h"
#include "tests/testing.h"

namespace emkit {
using testing::RunCommand;
using testing::RunEmkitBinary;

TEST(Cli, HelpListsCommandsAndOptionsWithDefaults) {
  auto r = RunEmkitBinary("--help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("info"), std::string::npos);
  r = RunEmkitBinary("info --help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("--threads"), std::string::npos);
  EXPECT_NE(r.out.find("--seed"), std::string::npos);
  EXPECT_NE(r.out.find("42"), std::string::npos);  // default seed shown
}

TEST(Cli, UnknownCommandsAndOptionsAreErrors) {
  auto r = RunEmkitBinary("frobnicate");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("unknown command 'frobnicate'"), std::string::npos);
  r = RunEmkitBinary("info --no-such-option x.mrc");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--no-such-option"), std::string::npos);
  r = RunEmkitBinary("info --threads abc x.mrc");
  EXPECT_EQ(r.status, 2);
  r = RunEmkitBinary("");
  EXPECT_NE(r.status, 0);
}

// class2d and simulate (and every MPI rank of class2d) run without LibTorch and OpenCV: those
// live in the plugins, which the binary loads only for the other commands. The 3D map commands
// (class3d, refine3d, postprocess, fsc) load OpenCV's drawing for their plots, not LibTorch, not
// OpenCV's codecs (~160 MB of resident memory in every process and MPI rank).
TEST(Cli, LightCommandsLoadNeitherTorchNorOpenCv) {
  auto r = RunCommand("LD_DEBUG=files " EMKIT_BINARY " class2d --help");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("libemkit_refine"), std::string::npos) << "LD_DEBUG printed no library list";
  EXPECT_EQ(r.err.find("libtorch"), std::string::npos);
  EXPECT_EQ(r.err.find("libopencv"), std::string::npos);
  EXPECT_EQ(r.err.find("emkit_plugin"), std::string::npos);
  EXPECT_EQ(r.err.find("emkit_maps"), std::string::npos);
  for (const char* command : {"class3d", "refine3d", "postprocess", "fsc"}) {
    r = RunCommand(std::string("LD_DEBUG=files " EMKIT_BINARY " ") + command + " --help");
    ASSERT_EQ(r.status, 0) << command << ": " << r.err;
    EXPECT_NE(r.err.find("libemkit_maps"), std::string::npos) << command;
    EXPECT_NE(r.err.find("libopencv_imgproc"), std::string::npos) << command;
    EXPECT_EQ(r.err.find("libopencv_imgcodecs"), std::string::npos) << command;
    EXPECT_EQ(r.err.find("libtorch"), std::string::npos) << command;
    EXPECT_EQ(r.err.find("emkit_plugin"), std::string::npos) << command;
  }
  r = RunCommand("LD_DEBUG=files " EMKIT_BINARY " info --help");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("emkit_plugin"), std::string::npos);
  EXPECT_NE(r.err.find("libtorch"), std::string::npos);
}

TEST(Cli, MissingPluginIsAClearErrorAndLightCommandsStillRun) {
  auto r = RunCommand("EMKIT_PLUGIN=/nonexistent/libemkit_plugin.so " EMKIT_BINARY " pick --help");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("unknown command 'pick'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("/nonexistent/libemkit_plugin.so"), std::string::npos) << r.err;
  r = RunCommand("EMKIT_PLUGIN=/nonexistent/libemkit_plugin.so " EMKIT_BINARY " simulate --help");
  EXPECT_EQ(r.status, 0) << r.err;
  r = RunCommand("EMKIT_PLUGIN=/nonexistent/libemkit_plugin.so " EMKIT_BINARY " --help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("class2d"), std::string::npos);
  EXPECT_NE(r.out.find("not loadable"), std::string::npos);
}

TEST(Cli, InfoReadsEveryRealFile) {
  EMKIT_REQUIRE_SHARED_DATA(data);
  std::string args;
  int n = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(data)) {
    const std::string ext = e.path().extension().string();
    if (ext == ".mrc" || ext == ".mrcs" || ext == ".star" || ext == ".png") {
      args += " '" + e.path().string() + "'";
      ++n;
    }
  }
  auto r = RunEmkitBinary("info --json" + args);
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(static_cast<int>(j.size()), n);
  for (const auto& f : j) EXPECT_FALSE(f.contains("error")) << f.dump();
}

TEST(Cli, InfoRefusesBrokenFilesCleanly) {
  const std::string dir = testing::FreshDir("info");
  {
    Image img(64, 64);
    WriteMrc(dir + "/good.mrc", img);
    std::filesystem::copy_file(dir + "/good.mrc", dir + "/trunc.mrc");
    std::filesystem::resize_file(dir + "/trunc.mrc", 5000);
    std::ofstream(dir + "/bad.star") << "data_x\nloop_\n_rlnA #1\n_rlnB #2\n1 2\n3\n";
  }
  auto r =
      RunEmkitBinary("info " + dir + "/good.mrc " + dir + "/trunc.mrc " + dir + "/bad.star " + dir + "/missing.mrc");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("good.mrc: MRC image 64x64x1"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("trunc.mrc: not a valid MRC file: truncated"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("bad.star:6: row has 1 values"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("missing.mrc: no such file"), std::string::npos) << r.err;
}

}  // namespace emkit
