// emkit postprocess from the command line: RELION's files from two half maps (sharpened map,
// masked map, STAR with the general/fsc/guinier tables, plots), RELION's half2 naming rule, the
// same result for the same seed, and bad input (differing boxes, a missing file, no pixel size,
// a name without half1) refused with one line naming the file.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/random.h"
#include "io/mrc.h"
#include "io/star.h"
#include "refine/test_maps.h"
#include "tests/testing.h"

namespace emkit {
namespace {

bool Has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Blobs plus independent noise per half: an FSC that falls with resolution.
void WriteHalves(const std::string& dir, int n, double pixel_size) {
  const Volume signal = testing::Blobs(n, testing::ChiralBlobs());
  for (int half = 1; half <= 2; ++half) {
    Volume v = signal;
    Rng rng(half, 0);
    for (auto& x : v) x += static_cast<float>(rng.Normal(0, 0.05));
    MrcWriteOptions o;
    o.pixel_size = pixel_size;
    o.kind = MrcKind::kVolume;
    WriteMrc(dir + "/run_half" + std::to_string(half) + "_class001_unfil.mrc", v, o);
  }
}

TEST(PostprocessCli, WritesRelionsFiles) {
  const std::string dir = testing::FreshDir("pp");
  WriteHalves(dir, 32, 2.0);
  const std::string h1 = dir + "/run_half1_class001_unfil.mrc";
  auto r = testing::RunEmkitBinary("postprocess -i " + h1 + " -o " + dir + "/pp --auto-mask --mask-threshold 0.1 " +
                                   "--auto-bfac --autob-lowres 8 --seed 3 --threads 2");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(Has(r.out, "postprocess: resolution ")) << r.out;
  EXPECT_TRUE(Has(r.out, "B-factor ")) << r.out;
  for (const char* f :
       {"postprocess.mrc", "postprocess_masked.mrc", "postprocess_mask.mrc", "postprocess.star", "postprocess_fsc.xml",
        "postprocess_fsc.png", "postprocess_guinier.png", "emkit_postprocess.done"})
    EXPECT_TRUE(std::filesystem::exists(dir + "/pp/" + f)) << f;
  const StarFile star = ReadStar(dir + "/pp/postprocess.star");
  const StarTable& g = star.Require("general");
  const double res = g.GetDouble(0, "rlnFinalResolution");
  EXPECT_GE(res, 4.0);  // Nyquist
  EXPECT_LT(res, 64.0);
  for (const char* l : {"rlnBfactorUsedForSharpening", "rlnFittedSlopeGuinierPlot", "rlnFittedInterceptGuinierPlot",
                        "rlnCorrelationFitGuinierPlot", "rlnRandomiseFrom", "rlnMaskName"})
    EXPECT_TRUE(g.Has(l)) << l;
  EXPECT_NEAR(g.GetDouble(0, "rlnBfactorUsedForSharpening"), 4 * g.GetDouble(0, "rlnFittedSlopeGuinierPlot"), 1e-3);
  EXPECT_EQ(g.Get(0, "rlnUnfilteredMapHalf2"), dir + "/run_half2_class001_unfil.mrc");
  const StarTable& fsc = star.Require("fsc");
  EXPECT_EQ(fsc.num_rows(), 17u);  // shells 0..16
  for (const char* l :
       {"rlnFourierShellCorrelationCorrected", "rlnFourierShellCorrelationUnmaskedMaps",
        "rlnFourierShellCorrelationMaskedMaps", "rlnCorrectedFourierShellCorrelationPhaseRandomizedMaskedMaps"})
    EXPECT_TRUE(fsc.Has(l)) << l;
  EXPECT_TRUE(star.Require("guinier").Has("rlnLogAmplitudesSharpened"));
  const MrcHeader h = ReadMrcHeader(dir + "/pp/postprocess.mrc");
  EXPECT_EQ(h.nz, 32);
  EXPECT_NEAR(h.PixelSize(), 2.0, 1e-4);
  // The same seed: the same files; an existing job is refused without --overwrite.
  auto again = testing::RunEmkitBinary("postprocess --i " + h1 + " --o " + dir + "/pp --auto_mask " +
                                       "--inimask_threshold 0.1 --auto_bfac --autob_lowres 8 --seed 3 --threads 2");
  EXPECT_NE(again.status, 0);
  again = testing::RunEmkitBinary("postprocess --half1 " + h1 + " --half2 " + dir + "/run_half2_class001_unfil.mrc" +
                                  " -o " + dir + "/pp2 --auto-mask --mask-threshold 0.1 --auto-bfac --autob-lowres 8 " +
                                  "--seed 3 --threads 2");
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(ReadStar(dir + "/pp2/postprocess.star").Require("general").Get(0, "rlnFinalResolution"),
            g.Get(0, "rlnFinalResolution"));
  const Image a = ReadMrc(dir + "/pp/postprocess.mrc"), b = ReadMrc(dir + "/pp2/postprocess.mrc");
  EXPECT_EQ(std::vector<float>(a.begin(), a.end()), std::vector<float>(b.begin(), b.end()));
  // One thread: the same map, FSC table and B-factor.
  auto one = testing::RunEmkitBinary("postprocess -i " + h1 + " -o " + dir + "/pp1 --auto-mask --mask-threshold 0.1 " +
                                     "--auto-bfac --autob-lowres 8 --seed 3 --threads 1");
  ASSERT_EQ(one.status, 0) << one.err;
  const Image c = ReadMrc(dir + "/pp1/postprocess.mrc");
  EXPECT_EQ(std::vector<float>(a.begin(), a.end()), std::vector<float>(c.begin(), c.end()));
  EXPECT_EQ(ReadStar(dir + "/pp1/postprocess.star").Require("general").Get(0, "rlnBfactorUsedForSharpening"),
            g.Get(0, "rlnBfactorUsedForSharpening"));
  // Another seed: other random phases, so another phase-randomised FSC.
  auto seed = testing::RunEmkitBinary("postprocess -i " + h1 + " -o " + dir + "/pp5 --auto-mask --mask-threshold 0.1 " +
                                      "--auto-bfac --autob-lowres 8 --seed 4 --threads 2");
  ASSERT_EQ(seed.status, 0) << seed.err;
  const std::string random = "rlnCorrectedFourierShellCorrelationPhaseRandomizedMaskedMaps";
  const StarFile other_star = ReadStar(dir + "/pp5/postprocess.star");
  const StarTable& other = other_star.Require("fsc");
  bool differs = false;
  for (std::size_t s = 0; s < fsc.num_rows(); ++s) differs |= other.Get(s, random) != fsc.Get(s, random);
  EXPECT_TRUE(differs);
  // A given mask (the automatic one) gives the same result as --auto-mask.
  auto given = testing::RunEmkitBinary("postprocess -i " + h1 + " -o " + dir + "/pp3 --mask " + dir +
                                       "/pp/postprocess_mask.mrc --auto-bfac --autob-lowres 8 --seed 3 --threads 2");
  ASSERT_EQ(given.status, 0) << given.err;
  EXPECT_EQ(ReadStar(dir + "/pp3/postprocess.star").Require("general").Get(0, "rlnFinalResolution"),
            g.Get(0, "rlnFinalResolution"));
  // Without a mask: the unmasked FSC and no masked map.
  auto plain = testing::RunEmkitBinary("postprocess -i " + h1 + " -o " + dir + "/pp4 --bfac -50 --quiet");
  ASSERT_EQ(plain.status, 0) << plain.err;
  EXPECT_TRUE(plain.out.empty()) << plain.out;
  EXPECT_FALSE(std::filesystem::exists(dir + "/pp4/postprocess_masked.mrc"));
  EXPECT_EQ(ReadStar(dir + "/pp4/postprocess.star").Require("general").GetDouble(0, "rlnBfactorUsedForSharpening"),
            -50);
}

TEST(PostprocessCli, BadInputIsNamed) {
  const std::string dir = testing::FreshDir("bad");
  WriteHalves(dir, 24, 2.0);
  const std::string h1 = dir + "/run_half1_class001_unfil.mrc";
  auto expect_error = [&](const std::string& args, const std::string& part) {
    SCOPED_TRACE(args);
    auto r = testing::RunEmkitBinary("postprocess " + args);
    EXPECT_NE(r.status, 0);
    EXPECT_TRUE(Has(r.err, part)) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  };
  // Differing boxes.
  MrcWriteOptions o;
  o.pixel_size = 2;
  o.kind = MrcKind::kVolume;
  WriteMrc(dir + "/small.mrc", Volume(20, 20, 20, 1.0f), o);
  expect_error("-i " + h1 + " --half2 " + dir + "/small.mrc -o " + dir + "/o1", "small.mrc: 20x20x20 differs");
  // A missing half map (by the half2 rule, and given).
  std::filesystem::copy_file(h1, dir + "/lonely_half1.mrc");
  expect_error("-i " + dir + "/lonely_half1.mrc -o " + dir + "/o2", "lonely_half2.mrc: no such file");
  expect_error("-i " + dir + "/nothere_half1.mrc -o " + dir + "/o3", "nothere_half1.mrc: no such file");
  // A name without half1 or half2 and no --half2.
  expect_error("-i " + dir + "/small.mrc -o " + dir + "/o4", "give --half2");
  // No pixel size in the header and none given.
  for (const char* name : {"/np_half1.mrc", "/np_half2.mrc"}) {
    WriteMrc(dir + name, Volume(24, 24, 24, 1.0f), o);
    std::fstream f(dir + name, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(40);  // cella: 0 Å, no pixel size
    const float zero[3] = {0, 0, 0};
    f.write(reinterpret_cast<const char*>(zero), sizeof zero);
  }
  expect_error("-i " + dir + "/np_half1.mrc -o " + dir + "/o5", "give --pixel-size");
  // A mask of another box, both masks, both B-factor modes.
  expect_error("-i " + h1 + " --mask " + dir + "/small.mrc -o " + dir + "/o6", "small.mrc: the mask's box differs");
  expect_error("-i " + h1 + " --mask " + dir + "/small.mrc --auto-mask -o " + dir + "/o7", "give one of them");
  expect_error("-i " + h1 + " --auto-bfac --bfac -100 -o " + dir + "/o8", "not both");
  for (const char* d : {"o1", "o2", "o3", "o4", "o5", "o6", "o7", "o8"})
    EXPECT_FALSE(std::filesystem::exists(dir + "/" + d + "/postprocess.mrc")) << d;
}

}  // namespace
}  // namespace emkit
