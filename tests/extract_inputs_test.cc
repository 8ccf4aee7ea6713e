// extract takes what pick takes (files, globs, folders, --pixel-size, pick's micrographs.star) and
// names a STAR of the wrong kind.
#include <gtest/gtest.h>

#include <cmath>

#include "core/files.h"
#include "core/random.h"
#include "io/coordinates.h"
#include "io/micrograph.h"
#include "io/mrc.h"
#include "io/particles.h"
#include "io/png.h"
#include "tests/testing.h"

namespace emkit {
namespace {
using testing::RunEmkitBinary;

bool Has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Two 320^2 micrographs (2 Å/px) with 9 dark blobs each, as MRC and as PNG, and their coordinates.
void MakeData(const std::string& dir) {
  CreateDirectories(dir + "/mics");
  CreateDirectories(dir + "/pngs");
  CreateDirectories(dir + "/coords");
  for (int m = 0; m < 2; ++m) {
    Image mic(320, 320);
    Rng rng(5, m);
    for (auto& v : mic) v = static_cast<float>(rng.Normal());
    std::vector<Coordinate> coords;
    for (int gy = 0; gy < 3; ++gy)
      for (int gx = 0; gx < 3; ++gx) {
        const int cx = 60 + 100 * gx, cy = 60 + 100 * gy;
        for (int y = -20; y <= 20; ++y)
          for (int x = -20; x <= 20; ++x) mic(cx + x, cy + y) -= 3.0f * std::exp(-(x * x + y * y) / 80.0f);
        Coordinate c;
        c.x = cx;
        c.y = cy;
        coords.push_back(c);
      }
    const std::string name = "mic_" + std::to_string(m + 1);
    MrcWriteOptions o;
    o.pixel_size = 2;
    WriteMrc(dir + "/mics/" + name + ".mrc", mic, o);
    WritePng(dir + "/pngs/" + name + ".png", mic);
    WriteCoordinates(dir + "/coords/" + name + ".star", coords);
  }
}

int Particles(const std::string& star) { return static_cast<int>(ReadParticles(star).particles.size()); }

TEST(ExtractInputs, FilesGlobsFoldersAndPixelSize) {
  const std::string dir = testing::FreshDir("exin");
  MakeData(dir);
  const std::string common = " -c " + dir + "/coords --box 32 -q";
  // A folder of MRCs: pixel size from the headers.
  auto r = RunEmkitBinary("extract -i " + dir + "/mics" + common + " -o " + dir + "/a");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(Particles(dir + "/a/particles.star"), 18);
  EXPECT_DOUBLE_EQ(ReadParticles(dir + "/a/particles.star").optics[0].pixel_size, 2);
  EXPECT_FALSE(ReadParticles(dir + "/a/particles.star").has_ctf);
  // A glob and a file list.
  r = RunEmkitBinary("extract -i '" + dir + "/mics/*_1.mrc'" + common + " -o " + dir + "/b");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(Particles(dir + "/b/particles.star"), 9);
  r = RunEmkitBinary("extract -i " + dir + "/mics/mic_1.mrc " + dir + "/mics/mic_2.mrc" + common + " -o " + dir + "/c");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(Particles(dir + "/c/particles.star"), 18);
  // PNGs are images (not parsed as STAR) and need --pixel-size.
  r = RunEmkitBinary("extract -i " + dir + "/pngs/mic_1.png" + common + " -o " + dir + "/d");
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(Has(r.err, "mic_1.png: no pixel size")) << r.err;
  EXPECT_TRUE(Has(r.err, "--pixel-size")) << r.err;
  EXPECT_FALSE(Has(r.err, "data_")) << r.err;
  r = RunEmkitBinary("extract -i " + dir + "/pngs/mic_1.png --pixel-size 2.5" + common + " -o " + dir + "/d");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(Particles(dir + "/d/particles.star"), 9);
  EXPECT_DOUBLE_EQ(ReadParticles(dir + "/d/particles.star").optics[0].pixel_size, 2.5);
  r = RunEmkitBinary("extract -i '" + dir + "/nothing/*.mrc'" + common + " -o " + dir + "/e");
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(Has(r.err, "no micrographs match")) << r.err;
}

TEST(ExtractInputs, PickWritesItsMicrographsStarAndWrongKindsAreNamed) {
  const std::string dir = testing::FreshDir("expk");
  MakeData(dir);
  auto r = RunEmkitBinary("pick --method log -i " + dir + "/mics --diameter 40 --binned-diameter-px 10 --overlays -o " +
                          dir + "/picks -q");
  ASSERT_EQ(r.status, 0) << r.err;
  // Overlays at the micrograph's size (not the binned 160 px), with a legend (black box, top left).
  MicrographInfo info;
  const Image overlay = ReadMicrograph(dir + "/picks/overlays/mic_1.png", &info);
  EXPECT_EQ(overlay.nx(), 320);
  EXPECT_EQ(overlay.ny(), 320);
  EXPECT_EQ(overlay(1, 1), 0);
  const MicrographSet mics = ReadMicrographs(dir + "/picks/micrographs.star");
  ASSERT_EQ(mics.micrographs.size(), 2u);
  EXPECT_EQ(mics.micrographs[0].name, dir + "/mics/mic_1.mrc");
  EXPECT_DOUBLE_EQ(mics.Optics(1).pixel_size, 2);
  EXPECT_FALSE(mics.micrographs[0].has_ctf);
  r = RunEmkitBinary("extract -i " + dir + "/picks/micrographs.star -c " + dir + "/picks --box 32 -o " + dir +
                     "/ex -q");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_GT(Particles(dir + "/ex/particles.star"), 0);
  // pick's coordinates.star given as the micrographs: named as coordinates, nothing extracted.
  r = RunEmkitBinary("extract -i " + dir + "/picks/coordinates.star -c " + dir + "/picks --box 32 -o " + dir + "/bad");
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(Has(r.err, "coordinates.star: expected a micrographs STAR, got coordinates")) << r.err;
  EXPECT_FALSE(FileExists(dir + "/bad/particles.star"));
  // A particles STAR likewise (and pick refuses both the same way).
  r = RunEmkitBinary("extract -i " + dir + "/ex/particles.star -c " + dir + "/picks --box 32 -o " + dir + "/bad2");
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(Has(r.err, "expected a micrographs STAR, got particles")) << r.err;
  r = RunEmkitBinary("pick --method log -i " + dir + "/picks/coordinates.star --diameter 40 -o " + dir + "/p2");
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(Has(r.err, "got coordinates")) << r.err;
}

TEST(EvalPicks, SeveralPickSetsShareOnePlotAndOneTable) {
  const std::string dir = testing::FreshDir("evalsets");
  MakeData(dir);
  auto r = RunEmkitBinary("pick --method log -i " + dir + "/mics --diameter 40 -o " + dir + "/log -q");
  ASSERT_EQ(r.status, 0) << r.err;
  r = RunEmkitBinary("pick --method log -i " + dir + "/mics --diameter 40 --max-picks 3 -o " + dir + "/few -q");
  ASSERT_EQ(r.status, 0) << r.err;
  r = RunEmkitBinary("eval-picks -i " + dir + "/log " + dir + "/few --truth " + dir +
                     "/coords --diameter-px 20 --label LoG,three -o " + dir + "/eval");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(Has(r.out, "LoG: 2 micrograph(s)")) << r.out;
  EXPECT_TRUE(Has(r.out, "three: 2 micrograph(s), 6 picks")) << r.out;
  const std::string md = ReadTextFile(dir + "/eval/eval.md");
  EXPECT_TRUE(Has(md, "| LoG | 2 |")) << md;
  EXPECT_TRUE(Has(md, "| three | 2 | 6 | 18 |")) << md;
  const std::string csv = ReadTextFile(dir + "/eval/pr_curve.csv");
  EXPECT_EQ(csv.rfind("set,threshold,precision,recall,f1\n", 0), 0u) << csv;
  EXPECT_TRUE(Has(csv, "\nthree,")) << csv;
  EXPECT_TRUE(Has(ReadTextFile(dir + "/eval/eval.json"), "\"sets\""));
  EXPECT_TRUE(FileExists(dir + "/eval/pr_curve.png"));
  // One label per set.
  r = RunEmkitBinary("eval-picks -i " + dir + "/log " + dir + "/few --truth " + dir +
                     "/coords --diameter-px 20 --label LoG -o " + dir + "/eval2");
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(Has(r.err, "--label: 1 name(s) for 2 pick set(s)")) << r.err;
  // One set: the table has its folder's name, the CSV its old columns.
  r = RunEmkitBinary("eval-picks -i " + dir + "/log --truth " + dir + "/coords --diameter-px 20 -o " + dir + "/eval3");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(Has(ReadTextFile(dir + "/eval3/eval.md"), "| log | 2 |"));
  EXPECT_EQ(ReadTextFile(dir + "/eval3/pr_curve.csv").rfind("threshold,precision", 0), 0u);
}

}  // namespace
}  // namespace emkit
