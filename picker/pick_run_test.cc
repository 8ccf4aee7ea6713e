// PickMicrographs: the bounded read -> preprocess -> score -> write pipeline gives the same
// picks and files as one micrograph after another, for any thread count, and stops cleanly
// on an unreadable micrograph.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/files.h"
#include "core/random.h"
#include "io/coordinates.h"
#include "io/mrc.h"
#include "picker/log_picker.h"
#include "picker/pick.h"

namespace emkit {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Micrographs of noise with a few Gaussian blobs each, at different places per micrograph.
std::vector<MicrographInput> WriteSyntheticMicrographs(const std::string& dir, int n) {
  CreateDirectories(dir);
  std::vector<MicrographInput> out;
  for (int m = 0; m < n; ++m) {
    Image mic(300, 260);
    Rng rng(7, static_cast<uint64_t>(m));
    for (auto& v : mic) v = static_cast<float>(rng.Normal());
    for (int b = 0; b < 6; ++b) {
      const double cx = rng.Uniform(30, 270), cy = rng.Uniform(30, 230);
      for (int y = 0; y < mic.ny(); ++y)
        for (int x = 0; x < mic.nx(); ++x)
          mic(x, y) -= static_cast<float>(3 * std::exp(-((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (2 * 49.0)));
    }
    MicrographInput in;
    in.path = in.name = dir + "/mic_" + std::to_string(m) + ".mrc";
    MrcWriteOptions o;
    o.pixel_size = 1.5;
    WriteMrc(in.path, mic, o);
    in.pixel_size = 0;  // from the header
    out.push_back(in);
  }
  return out;
}

PickOptions Options(int threads) {
  PickOptions opt;
  opt.diameter = 30;
  opt.threshold = 2.5;
  opt.preprocess.invert = true;
  opt.threads = threads;
  return opt;
}

std::unique_ptr<ScoreMapper> Log(int threads) {
  LogOptions l;
  l.diameter_min = 20;
  l.diameter_max = 40;
  l.threads = threads;
  return std::make_unique<LogScoreMapper>(l);
}

TEST(PickRun, PipelineMatchesSequentialReferenceForAnyThreadCount) {
  const std::string dir = ::testing::TempDir() + "/emkit_pick_run_same";
  std::filesystem::remove_all(dir);
  const std::vector<MicrographInput> inputs = WriteSyntheticMicrographs(dir + "/mics", 6);
  PickRunOptions ref_run;
  ref_run.out = dir + "/sequential";
  ref_run.pipelined = false;
  ref_run.overlays = true;
  const std::vector<PickRunRecord> ref = PickMicrographs(inputs, Log(1).get(), Options(1), ref_run);
  ASSERT_EQ(ref.size(), inputs.size());
  std::size_t total = 0;
  for (const auto& r : ref) total += r.picks.size();
  EXPECT_GT(total, 12u);  // the blobs are found: the comparison below is not between empty lists
  for (int threads : {1, 2}) {
    PickRunOptions run;
    run.out = dir + "/pipelined_" + std::to_string(threads);
    run.overlays = true;
    const std::vector<PickRunRecord> got = PickMicrographs(inputs, Log(threads).get(), Options(threads), run);
    ASSERT_EQ(got.size(), ref.size());
    for (std::size_t m = 0; m < ref.size(); ++m) {
      EXPECT_EQ(got[m].input.name, inputs[m].name);
      EXPECT_DOUBLE_EQ(got[m].input.pixel_size, 1.5);
      ASSERT_EQ(got[m].picks.size(), ref[m].picks.size()) << "micrograph " << m << ", " << threads << " threads";
      for (std::size_t k = 0; k < ref[m].picks.size(); ++k) {
        EXPECT_EQ(got[m].picks[k].x, ref[m].picks[k].x);
        EXPECT_EQ(got[m].picks[k].y, ref[m].picks[k].y);
        EXPECT_EQ(got[m].picks[k].fom, ref[m].picks[k].fom);
      }
      const std::string star = AutopickPath(run.out, inputs[m].name);
      EXPECT_EQ(ReadAll(star), ReadAll(AutopickPath(ref_run.out, inputs[m].name))) << star;
      const std::string png = "/overlays/" + MicrographKey(inputs[m].name) + ".png";
      EXPECT_EQ(ReadAll(run.out + png), ReadAll(ref_run.out + png)) << png;
    }
  }
}

TEST(PickRun, UnreadableMicrographStopsThePipelineWithItsName) {
  const std::string dir = ::testing::TempDir() + "/emkit_pick_run_bad";
  std::filesystem::remove_all(dir);
  std::vector<MicrographInput> inputs = WriteSyntheticMicrographs(dir + "/mics", 6);
  const std::string bad = dir + "/mics/mic_3.mrc";
  {
    std::ofstream f(bad, std::ios::binary | std::ios::trunc);
    f << "this is not an MRC file";
  }
  PickRunOptions run;
  run.out = dir + "/out";
  try {
    PickMicrographs(inputs, Log(2).get(), Options(2), run);
    FAIL() << "no error for " << bad;
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("mic_3.mrc"), std::string::npos) << e.what();
  }
  // Micrographs after the bad one get nothing; no temporary or partial files are left.
  for (int m = 3; m < 6; ++m) EXPECT_FALSE(FileExists(AutopickPath(run.out, inputs[m].name))) << m;
  for (const auto& e : std::filesystem::directory_iterator(run.out)) {
    const std::string name = e.path().filename().string();
    const bool earlier =
        name == "mic_0_autopick.star" || name == "mic_1_autopick.star" || name == "mic_2_autopick.star";
    EXPECT_TRUE(earlier) << "unexpected output " << name;
    if (earlier) {
      EXPECT_NO_THROW(ReadCoordinates(e.path().string())) << name;  // complete, readable files
    }
  }
}

}  // namespace
}  // namespace emkit
