#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "core/files.h"
#include "core/random.h"
#include "io/mrc.h"
#include "io/particles.h"
#include "picker/local_stats.h"
#include "picker/log_picker.h"
#include "picker/pick.h"

namespace emkit {
namespace {

TEST(LocalStats, MatchesBruteForceWithPeriodicEdges) {
  Image img(40, 30);
  Rng rng(1, 0);
  for (auto& v : img) v = static_cast<float>(rng.Uniform(-2, 5));
  Image mean, sd;
  const double r = 4.5;
  LocalMeanStd(img, r, &mean, &sd);
  EXPECT_EQ(DiskPixelCount(r), 69);
  for (auto [x, y] : {std::pair<int, int>{20, 15}, {0, 0}, {39, 3}}) {
    double s = 0, s2 = 0;
    int n = 0;
    for (int dy = -5; dy <= 5; ++dy)
      for (int dx = -5; dx <= 5; ++dx)
        if (dx * dx + dy * dy <= r * r) {
          const double v = img((x + dx + 40) % 40, (y + dy + 30) % 30);
          s += v, s2 += v * v, ++n;
        }
    EXPECT_NEAR(mean(x, y), s / n, 1e-4);
    EXPECT_NEAR(sd(x, y), std::sqrt(s2 / n - (s / n) * (s / n)), 1e-3);
  }
  EXPECT_EQ(NiceFftSize(1024), 1024);
  EXPECT_EQ(NiceFftSize(1031), 1152);
  EXPECT_EQ(NiceFftSize(661), 768);
  EXPECT_EQ(NiceFftSize(600), 640);
  EXPECT_EQ(NiceFftSize(7), 8);
}

TEST(PickPipeline, RejectsPicksInBadRegionsAndReturnsOriginalPixels) {
  Image mic(400, 300);
  Rng rng(2, 0);
  for (auto& v : mic) v = static_cast<float>(rng.Normal());
  auto blob = [&](int cx, int cy, double amp, double sigma) {
    for (int y = 0; y < mic.ny(); ++y)
      for (int x = 0; x < mic.nx(); ++x)
        mic(x, y) +=
            static_cast<float>(amp * std::exp(-((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (2 * sigma * sigma)));
  };
  blob(100, 100, 3, 7);
  blob(300, 200, 3, 7);
  blob(250, 80, 3, 7);
  // Contamination: a very bright, high-variance patch around (300, 200).
  for (int y = 170; y < 230; ++y)
    for (int x = 270; x < 330; ++x) mic(x, y) += static_cast<float>(15 * rng.Normal() + 20);
  MicrographInput in;
  in.name = in.path = "m.mrc";
  in.pixel_size = 1.5;
  PickOptions opt;
  opt.diameter = 30;
  opt.threshold = 3;
  LogOptions lopt;
  lopt.diameter_min = 20;
  lopt.diameter_max = 40;
  LogScoreMapper log(lopt);
  PickResult r = PickMicrograph(mic, in, &log, opt);
  auto near = [&](const std::vector<Coordinate>& p, double x, double y) {
    for (const auto& c : p)
      if (std::hypot(c.x - x, c.y - y) < 6) return true;
    return false;
  };
  EXPECT_TRUE(near(r.picks, 100, 100));
  EXPECT_TRUE(near(r.picks, 250, 80));
  EXPECT_EQ(r.rejected_bad_region, 0);
  for (const auto& p : r.picks) EXPECT_EQ(p.micrograph, "m.mrc");
  opt.max_stddev_noise = 3;
  PickResult k = PickMicrograph(mic, in, &log, opt);
  EXPECT_TRUE(near(k.picks, 100, 100));
  EXPECT_TRUE(near(k.picks, 250, 80));
  for (const auto& p : k.picks) EXPECT_FALSE(p.x > 260 && p.x < 340 && p.y > 160 && p.y < 240) << p.x << "," << p.y;
  EXPECT_GT(k.rejected_bad_region, 0);
}

TEST(PickPipeline, CoordinateCollectionsKeyByMicrographName) {
  EXPECT_EQ(MicrographKey("a/b/mic_001.mrc"), "mic_001");
  EXPECT_EQ(MicrographKey("out/mic_001_autopick.star"), "mic_001");
  EXPECT_EQ(AutopickPath("out", "Micrographs/mic_001.mrc"), "out/mic_001_autopick.star");
}

TEST(PickPipeline, ClashingBaseNamesKeepTheirFolders) {
  EXPECT_EQ(MicrographPathKey("/data/./a/../b/mic_1.mrc"), "data/b/mic_1");
  EXPECT_EQ(MicrographPathKey("../x/mic_1_autopick.star"), "x/mic_1");
  EXPECT_EQ(MicrographOutputKeys({"a/m1.mrc", "b/m2.mrc"}), (std::vector<std::string>{"m1", "m2"}));
  EXPECT_EQ(MicrographOutputKeys({"a/m1.mrc", "b/m1.mrc", "c/m2.mrc"}),
            (std::vector<std::string>{"a/m1", "b/m1", "c/m2"}));
  EXPECT_THROW(MicrographOutputKeys({"a/m1.mrc", "a/m1.tif"}), InvalidInputError);
  CoordinateCollection c;
  c.keys = {"a/m1", "b/m1", "m2"};
  c.coords.resize(3);
  EXPECT_EQ(c.FindIndex("proj/a/m1.mrc"), 0);
  EXPECT_EQ(c.FindIndex("b/m1.mrc"), 1);
  EXPECT_EQ(c.FindIndex("x/y/m2.mrc"), 2);  // a flat key matches any folder
  EXPECT_EQ(c.FindIndex("m3.mrc"), -1);
  EXPECT_THROW(c.FindIndex("m1.mrc"), InvalidInputError);  // a/m1 or b/m1?
  c.keys.push_back("proj/a/m1");
  c.coords.emplace_back();
  EXPECT_EQ(c.FindIndex("/top/proj/a/m1.mrc"), 3);  // the longest match
}

TEST(PickPipeline, CollectionsFromFoldersAndCombinedStarsAndMicrographLists) {
  const std::string dir = ::testing::TempDir() + "/emkit_pick_collections";
  std::filesystem::remove_all(dir);
  CreateDirectories(dir + "/picks");
  CreateDirectories(dir + "/truth");
  Coordinate a;
  a.x = 10;
  a.y = 20;
  a.fom = 0.5;
  WriteCoordinates(dir + "/picks/mic_1_autopick.star", {a, a});
  WriteCombinedCoordinates(dir + "/picks/coordinates.star", {"Micrographs/mic_1.mrc"}, {{a, a}});
  WriteCoordinates(dir + "/truth/mic_1.star", {a});
  WriteCoordinates(dir + "/truth/mic_1_decoys.star", {a, a, a});
  // A pick folder: only the *_autopick files, keyed by micrograph.
  CoordinateCollection p = ReadCoordinateCollection(dir + "/picks");
  ASSERT_EQ(p.keys.size(), 1u);
  EXPECT_EQ(p.keys[0], "mic_1");
  ASSERT_NE(p.Find("other/dir/mic_1.mrc"), nullptr);
  EXPECT_EQ(p.Find("mic_1.mrc")->size(), 2u);
  EXPECT_DOUBLE_EQ(p.Find("mic_1.mrc")->at(0).fom, 0.5);
  // The simulator's decoys are not particles.
  CoordinateCollection t = ReadCoordinateCollection(dir + "/truth");
  ASSERT_EQ(t.keys.size(), 1u);
  EXPECT_EQ(t.coords[0].size(), 1u);
  // A combined STAR groups rows by micrograph.
  CoordinateCollection c = ReadCoordinateCollection(dir + "/picks/coordinates.star");
  ASSERT_EQ(c.keys.size(), 1u);
  EXPECT_EQ(c.coords[0].size(), 2u);
  EXPECT_EQ(c.coords[0][0].micrograph, "Micrographs/mic_1.mrc");
  EXPECT_THROW(ReadCoordinateCollection(dir + "/missing"), std::exception);
  // Micrograph lists: a STAR (names resolved against its folder, CTF and pixel size kept).
  CreateDirectories(dir + "/Micrographs");
  WriteMrc(dir + "/Micrographs/mic_1.mrc", Image(32, 32));
  MicrographSet set;
  OpticsGroup g;
  g.pixel_size = 2.5;
  set.optics.push_back(g);
  MicrographEntry e;
  e.name = "Micrographs/mic_1.mrc";
  e.has_ctf = true;
  e.ctf.defocus_u = 12345;
  set.micrographs.push_back(e);
  WriteMicrographs(dir + "/mics.star", set);
  auto in = ListMicrographs({dir + "/mics.star"}, 0);
  ASSERT_EQ(in.size(), 1u);
  EXPECT_EQ(in[0].name, "Micrographs/mic_1.mrc");
  EXPECT_EQ(in[0].path, dir + "/Micrographs/mic_1.mrc");
  EXPECT_DOUBLE_EQ(in[0].pixel_size, 2.5);
  EXPECT_TRUE(in[0].has_ctf);
  EXPECT_DOUBLE_EQ(in[0].ctf.defocus_u, 12345);
  in = ListMicrographs({dir + "/Micrographs/*.mrc"}, 1.5);
  ASSERT_EQ(in.size(), 1u);
  EXPECT_DOUBLE_EQ(in[0].pixel_size, 1.5);
  EXPECT_THROW(ListMicrographs({dir + "/nothing/*.mrc"}, 1), std::exception);
}

}  // namespace
}  // namespace emkit
