// emkit pick / eval-picks end to end on synthetic micrographs made here.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/files.h"
#include "core/random.h"
#include "io/coordinates.h"
#include "io/mrc.h"
#include "io/particles.h"
#include "io/star.h"
#include "tests/testing.h"

namespace emkit {
namespace {
using testing::RunEmkitBinary;

Image Blob(int box) {  // white asymmetric particle on zero
  Image p(box, box);
  for (int y = 0; y < box; ++y)
    for (int x = 0; x < box; ++x) {
      const double dx = x - box / 2, dy = y - box / 2;
      p(x, y) = static_cast<float>(std::exp(-(dx * dx + dy * dy) / 32.0) +
                                   0.8 * std::exp(-((dx - 8) * (dx - 8) + dy * dy) / 12.0));
    }
  return p;
}

// Two 384x320 micrographs (3 Å/px) with dark particles on a grid, and their truth.
void MakeData(const std::string& dir) {
  CreateDirectories(dir + "/mics");
  CreateDirectories(dir + "/truth");
  for (int m = 0; m < 2; ++m) {
    Image mic(384, 320);
    Rng rng(9, m);
    for (auto& v : mic) v = static_cast<float>(rng.Normal());
    std::vector<Coordinate> truth;
    const Image p = Blob(32);
    for (int gy = 0; gy < 4; ++gy)
      for (int gx = 0; gx < 5; ++gx) {
        const int cx = 40 + gx * 75 + m * 3, cy = 40 + gy * 78;
        for (int y = 0; y < 32; ++y)
          for (int x = 0; x < 32; ++x) mic(cx - 16 + x, cy - 16 + y) -= 2.5f * p(x, y);
        Coordinate c;
        c.x = cx;
        c.y = cy;
        truth.push_back(c);
      }
    MrcWriteOptions o;
    o.pixel_size = 3;
    const std::string name = "mic_" + std::to_string(m + 1);
    WriteMrc(dir + "/mics/" + name + ".mrc", mic, o);
    WriteCoordinates(dir + "/truth/" + name + ".star", truth);
  }
  MrcWriteOptions o;
  o.pixel_size = 3;
  o.kind = MrcKind::kStack;
  WriteMrcStack(dir + "/refs.mrcs", {Blob(32)}, o);
}

TEST(PickCli, TemplateAndLogPickAndEvaluate) {
  const std::string dir = testing::FreshDir("pick");
  MakeData(dir);
  auto r = RunEmkitBinary("pick -i '" + dir + "/mics/*.mrc' -o " + dir + "/tmpl --references " + dir +
                          "/refs.mrcs --diameter 80 --lowpass 9 --threshold 0.3 --overlays --threads 2");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(FileExists(dir + "/tmpl/mic_1_autopick.star"));
  EXPECT_TRUE(FileExists(dir + "/tmpl/overlays/mic_2.png"));
  EXPECT_TRUE(FileExists(dir + "/tmpl/emkit_pick_options.toml"));
  StarFile combined = ReadStar(dir + "/tmpl/coordinates.star");
  ASSERT_FALSE(combined.blocks.empty());
  const StarTable& t = combined.blocks[0];
  for (const char* l : {"rlnMicrographName", "rlnCoordinateX", "rlnCoordinateY", "rlnAutopickFigureOfMerit",
                        "rlnClassNumber", "rlnAnglePsi"})
    EXPECT_TRUE(t.Has(l)) << l;
  r = RunEmkitBinary("eval-picks --picks " + dir + "/tmpl --truth " + dir + "/truth --diameter-px 26 -o " + dir +
                     "/ev");
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = nlohmann::json::parse(ReadTextFile(dir + "/ev/eval.json"));
  EXPECT_EQ(j["overall"]["truth"].get<int>(), 40);
  EXPECT_GE(j["overall"]["f1"].get<double>(), 0.9) << j.dump(1);
  EXPECT_EQ(j["per_micrograph"].size(), 2u);
  EXPECT_TRUE(FileExists(dir + "/ev/pr_curve.png"));
  EXPECT_NE(ReadTextFile(dir + "/ev/pr_curve.csv").find("threshold,precision,recall,f1"), std::string::npos);
  // The combined STAR evaluates the same as the folder.
  r = RunEmkitBinary("eval-picks --picks " + dir + "/tmpl/coordinates.star --truth " + dir +
                     "/truth --diameter-px 26 -o " + dir + "/ev2");
  ASSERT_EQ(r.status, 0) << r.err;
  auto j2 = nlohmann::json::parse(ReadTextFile(dir + "/ev2/eval.json"));
  EXPECT_EQ(j2["overall"]["f1"], j["overall"]["f1"]);

  r = RunEmkitBinary("pick -i " + dir + "/mics/mic_1.mrc " + dir + "/mics/mic_2.mrc -o " + dir +
                     "/log --method log --diameter 80 --threshold 2 --threads 2");
  ASSERT_EQ(r.status, 0) << r.err;
  r = RunEmkitBinary("eval-picks --picks " + dir + "/log --truth " + dir + "/truth --radius-px 13 -o " + dir + "/evl");
  ASSERT_EQ(r.status, 0) << r.err;
  auto jl = nlohmann::json::parse(ReadTextFile(dir + "/evl/eval.json"));
  EXPECT_GE(jl["overall"]["recall"].get<double>(), 0.9) << jl.dump(1);
}

// Without --threshold, LoG picking sets each micrograph's threshold from its own peak scores
// (Otsu's split, floored), reports it, and keeps exactly the picks at or above it.
TEST(PickCli, LogThresholdAdaptsToEachMicrograph) {
  const std::string dir = testing::FreshDir("pickadaptive");
  MakeData(dir);
  auto r = RunEmkitBinary("pick -i " + dir + "/mics/mic_1.mrc " + dir + "/mics/mic_2.mrc -o " + dir +
                          "/log --method log --diameter 80 --threads 2");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto summary = nlohmann::json::parse(ReadTextFile(dir + "/log/pick_summary.json"));
  EXPECT_TRUE(summary["adaptive_threshold"].get<bool>());
  EXPECT_EQ(summary["threshold"].get<double>(), 2.2);  // the floor
  for (const auto& m : summary["per_micrograph"]) {
    const double t = m["threshold"].get<double>();
    EXPECT_GE(t, 2.2);
    const auto picks = ReadCoordinates(dir + "/log/" + StripExtension(Basename(m["micrograph"])) + "_autopick.star");
    EXPECT_EQ(picks.size(), m["picks"].get<std::size_t>());
    for (const auto& p : picks) EXPECT_GE(p.fom, t);
  }
  r = RunEmkitBinary("eval-picks --picks " + dir + "/log --truth " + dir + "/truth --radius-px 13 -o " + dir + "/ev");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto e = nlohmann::json::parse(ReadTextFile(dir + "/ev/eval.json"))["overall"];
  EXPECT_GE(e["recall"].get<double>(), 0.9) << e.dump(1);
  EXPECT_GE(e["precision"].get<double>(), 0.9) << e.dump(1);
  // A floor above every score leaves nothing; a floor with a fixed threshold is an error.
  r = RunEmkitBinary("pick -i " + dir + "/mics/mic_1.mrc -o " + dir +
                     "/high --method log --diameter 80 --threshold-floor 1000 --threads 2");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(ReadCoordinates(dir + "/high/mic_1_autopick.star").empty());
  r = RunEmkitBinary("pick -i " + dir + "/mics/mic_1.mrc -o " + dir +
                     "/bad --method log --diameter 80 --threshold 2 --threshold-floor 3");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("--threshold-floor"), std::string::npos) << r.err;
}

// Class averages as references: --classes picks sections of the stack (a flat class would be
// refused if used), and the picks carry the chosen class's number.
TEST(PickCli, TemplateFromChosenClassAverages) {
  const std::string dir = testing::FreshDir("pickclasses");
  MakeData(dir);
  MrcWriteOptions o;
  o.pixel_size = 3;
  o.kind = MrcKind::kStack;
  WriteMrcStack(dir + "/run_it010_classes.mrcs", {Image(32, 32), Image(32, 32), Blob(32)}, o);
  auto r = RunEmkitBinary("pick -i " + dir + "/mics/mic_1.mrc -o " + dir + "/cls --references " + dir +
                          "/run_it010_classes.mrcs --classes 3 --diameter 80 --lowpass 9 --threshold 0.3 --threads 2");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto picks = ReadCoordinates(dir + "/cls/mic_1_autopick.star");
  const auto truth = ReadCoordinates(dir + "/truth/mic_1.star");
  EXPECT_GE(picks.size(), truth.size() - 2);
  for (const auto& p : picks) EXPECT_EQ(p.class_number, 3);
  r = RunEmkitBinary("pick -i " + dir + "/mics/mic_1.mrc -o " + dir + "/cls4 --references " + dir +
                     "/run_it010_classes.mrcs --classes 3,4 --diameter 80 --threads 2");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("run_it010_classes.mrcs: --classes 4"), std::string::npos) << r.err;
  r = RunEmkitBinary("pick -i " + dir + "/mics/mic_1.mrc -o " + dir + "/cls1 --references " + dir +
                     "/run_it010_classes.mrcs --classes 1,3 --diameter 80 --threads 2");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("flat"), std::string::npos) << r.err;
}

TEST(PickCli, BadInputsFailCleanly) {
  const std::string dir = testing::FreshDir("pickbad");
  MakeData(dir);
  auto r = RunEmkitBinary("pick -i " + dir + "/mics/mic_1.mrc -o " + dir + "/o --method nope --diameter 80");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("unknown"), std::string::npos) << r.err;
  r = RunEmkitBinary("pick -i " + dir + "/mics/mic_1.mrc -o " + dir + "/o --method template --diameter 80");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("--references"), std::string::npos) << r.err;
  r = RunEmkitBinary("pick -i '" + dir + "/none/*.mrc' -o " + dir + "/o --method log --diameter 80");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("no micrographs match"), std::string::npos) << r.err;
  r = RunEmkitBinary("pick -i " + dir + "/mics/mic_1.mrc -o " + dir + "/o --method log");
  EXPECT_NE(r.status, 0);  // --diameter is required for template and LoG
  EXPECT_NE(r.err.find("diameter"), std::string::npos) << r.err;
  r = RunEmkitBinary("eval-picks --picks " + dir + "/truth --truth " + dir + "/truth -o " + dir + "/e");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("--radius"), std::string::npos) << r.err;
}

TEST(ExtractCli, ExtractsPicksIntoStacksAndARelion31Star) {
  const std::string dir = testing::FreshDir("extract");
  MakeData(dir);
  MicrographSet set;
  OpticsGroup g;
  g.pixel_size = 3;
  set.optics.push_back(g);
  for (int m = 1; m <= 2; ++m) {
    MicrographEntry e;
    e.name = dir + "/mics/mic_" + std::to_string(m) + ".mrc";
    e.has_ctf = true;
    e.ctf.defocus_u = 10000 + m;
    e.ctf.defocus_v = 9000 + m;
    set.micrographs.push_back(e);
  }
  WriteMicrographs(dir + "/mics.star", set);
  // Truth plus one coordinate too close to the edge for a 48 px box.
  std::vector<Coordinate> c = ReadCoordinates(dir + "/truth/mic_1.star");
  Coordinate edge;
  edge.x = 10;
  edge.y = 100;
  c.push_back(edge);
  WriteCoordinates(dir + "/truth/mic_1.star", c);
  auto r = RunEmkitBinary("extract -i " + dir + "/mics.star -c " + dir + "/truth -o " + dir +
                          "/ext --box 48 --rescale 32 --invert-contrast --threads 2");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("40 particles, 1 skipped at the edge"), std::string::npos) << r.out;
  ParticleSet p = ReadParticles(dir + "/ext/particles.star");
  ASSERT_EQ(p.particles.size(), 40u);
  EXPECT_EQ(p.optics[0].image_size, 32);
  EXPECT_DOUBLE_EQ(p.optics[0].pixel_size, 4.5);
  EXPECT_DOUBLE_EQ(p.particles[0].ctf.defocus_u, 10001);
  EXPECT_DOUBLE_EQ(p.particles[39].ctf.defocus_u, 10002);
  MrcHeader h = ReadMrcHeader(dir + "/ext/Particles/mic_1.mrcs");
  EXPECT_EQ(h.nz, 20);
  EXPECT_NEAR(h.PixelSize(), 4.5, 1e-4);
  // Inverted and normalised: particles are white, background mean 0.
  Image first = ReadMrcSection(dir + "/ext/Particles/mic_1.mrcs", 0);
  EXPECT_GT(first(16, 16), 1.0f);
  r = RunEmkitBinary("extract -i " + dir + "/mics.star -c " + dir + "/truth -o " + dir + "/ext2 --box 47");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("box"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace emkit
