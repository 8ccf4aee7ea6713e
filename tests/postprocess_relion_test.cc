// emkit postprocess against relion_postprocess (Debian's RELION 3.1.3) on the same half maps:
// the real 70S ribosome map (../shared/data/maps/ribosome70s_65.mrc, read as 2 Å/px; also cropped
// to an even box of 64) plus independent white noise per half, masked with relion_mask_create's
// mask. What does not depend on the random phases is RELION's to float precision: the unmasked and
// masked FSC, the Guinier plots, the B-factor fitted without FSC weighting, the sharpened,
// MTF-corrected and low-passed map, and emkit's automatic mask. With the FSC weighting (RELION's
// default) the B-factor follows the phase-randomised FSC: resolution within one shell and the
// mean B of four seeds within 10% of RELION's.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "core/random.h"
#include "io/mrc.h"
#include "io/star.h"
#include "tests/testing.h"

namespace emkit {
namespace {

constexpr double kPixelSize = 2.0;

bool HaveRelion() { return testing::RunCommand("command -v relion_postprocess relion_mask_create").status == 0; }

struct Outcome {
  double resolution = 0, bfactor = 0;
  StarFile star;
};

Outcome Read(const std::string& star_path) {
  Outcome o;
  o.star = ReadStar(star_path);
  o.resolution = o.star.Require("general").GetDouble(0, "rlnFinalResolution");
  o.bfactor = o.star.Require("general").GetDouble(0, "rlnBfactorUsedForSharpening");
  return o;
}

double MaxColumnDifference(const StarTable& a, const StarTable& b, const std::string& label, std::size_t from = 0) {
  EXPECT_EQ(a.num_rows(), b.num_rows()) << label;
  double worst = 0;
  for (std::size_t r = from; r < std::min(a.num_rows(), b.num_rows()); ++r)
    worst = std::max(worst, std::fabs(a.GetDouble(r, label) - b.GetDouble(r, label)));
  return worst;
}

double RelativeRmsDifference(const std::string& a_path, const std::string& b_path) {
  const Image a = ReadMrc(a_path), b = ReadMrc(b_path);
  EXPECT_EQ(a.size(), b.size());
  double dd = 0, aa = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    dd += std::pow(double(a[i]) - b[i], 2), aa += double(a[i]) * a[i];
  return std::sqrt(dd / aa);
}

// Half maps of box n in `dir`: the ribosome (cropped to n, scaled to unit standard deviation)
// plus noise of sd 0.7 each, which brings the unmasked FSC to 0.143 near shell 20 (6.5 Å); their
// average, and relion_mask_create's mask of it (threshold 1 after a 15 Å low-pass, extended 3 px,
// 6 px soft edge).
void MakeHalves(const std::string& data, const std::string& dir, int n) {
  const Volume full = ReadMrc(data + "/maps/ribosome70s_65.mrc");
  ASSERT_GE(full.nx(), n);
  Volume map(n, n, n);
  for (int z = 0; z < n; ++z)
    for (int y = 0; y < n; ++y)
      for (int x = 0; x < n; ++x) map(x, y, z) = full(x, y, z);
  double s2 = 0, s1 = 0;
  for (float v : map) s1 += v, s2 += double(v) * v;
  const double sd = std::sqrt(s2 / map.size() - (s1 / map.size()) * (s1 / map.size()));
  for (auto& v : map) v = static_cast<float>(v / sd);
  MrcWriteOptions w;
  w.pixel_size = kPixelSize;
  w.kind = MrcKind::kVolume;
  Volume avg(n, n, n, 0.0f);
  for (int half = 1; half <= 2; ++half) {
    Volume h = map;
    Rng rng(17, half);
    for (auto& v : h) v += static_cast<float>(rng.Normal(0, 0.7));
    for (std::size_t i = 0; i < h.size(); ++i) avg[i] += 0.5f * h[i];
    WriteMrc(dir + "/run_half" + std::to_string(half) + "_class001_unfil.mrc", h, w);
  }
  WriteMrc(dir + "/average.mrc", avg, w);
  auto mask = testing::RunCommand("cd " + dir +
                                  " && relion_mask_create --i average.mrc --o relion_mask.mrc --ini_threshold 1 "
                                  "--extend_inimask 3 --width_soft_edge 6 --lowpass 15 --angpix 2 > mask.log 2>&1");
  ASSERT_EQ(mask.status, 0) << "relion_mask_create failed, see " << dir << "/mask.log";
}

// Both programs on the halves in `dir` with RELION's mask, into dir/name; {relion, emkit}.
std::pair<Outcome, Outcome> RunBoth(const std::string& dir, const std::string& name, const std::string& relion_flags,
                                    const std::string& emkit_flags) {
  auto rel = testing::RunCommand("cd " + dir + " && mkdir -p " + name +
                                 " && relion_postprocess --i run_half1_class001_unfil.mrc --mask relion_mask.mrc "
                                 "--angpix 2 --o " +
                                 name + "/relion " + relion_flags + " > " + name + "/relion.log 2>&1");
  EXPECT_EQ(rel.status, 0) << "relion_postprocess failed, see " << dir << "/" << name << "/relion.log";
  auto em =
      testing::RunEmkitBinary("postprocess -i " + dir + "/run_half1_class001_unfil.mrc --mask " + dir +
                              "/relion_mask.mrc --threads 2 --quiet -o " + dir + "/" + name + "/emkit " + emkit_flags);
  EXPECT_EQ(em.status, 0) << em.err;
  std::pair<Outcome, Outcome> o{Read(dir + "/" + name + "/relion.star"),
                                Read(dir + "/" + name + "/emkit/postprocess.star")};
  const double box_A = ReadMrcHeader(dir + "/average.mrc").nx * kPixelSize;
  std::printf("%-8s relion_postprocess %.3f A (shell %.0f) B %8.2f | emkit %.3f A (shell %.0f) B %8.2f\n", name.c_str(),
              o.first.resolution, box_A / o.first.resolution, o.first.bfactor, o.second.resolution,
              box_A / o.second.resolution, o.second.bfactor);
  EXPECT_LE(std::fabs(box_A / o.first.resolution - box_A / o.second.resolution), 1.01) << name;  // one shell
  return o;
}

// Everything that does not depend on the random phases.
void CheckDeterministicParts(const std::string& dir) {
  // Without the FSC weighting the B-factor does not depend on the random phases: the same fit.
  const auto [rd, ed] =
      RunBoth(dir, "direct", "--skip_fsc_weighting --auto_bfac", "--skip-fsc-weighting --auto-bfac --seed 1");
  EXPECT_NEAR(ed.bfactor, rd.bfactor, 0.005 * std::fabs(rd.bfactor));
  const StarTable &rf = rd.star.Require("fsc"), &ef = ed.star.Require("fsc");
  EXPECT_LT(MaxColumnDifference(rf, ef, "rlnFourierShellCorrelationUnmaskedMaps", 1), 1e-4);
  EXPECT_LT(MaxColumnDifference(rf, ef, "rlnFourierShellCorrelationMaskedMaps", 1), 1e-4);
  EXPECT_LT(MaxColumnDifference(rf, ef, "rlnFourierShellCorrelationParticleMaskFraction", 1), 1e-4);
  EXPECT_LT(MaxColumnDifference(rf, ef, "rlnAngstromResolution"), 1e-3);
  const StarTable &rg = rd.star.Require("guinier"), &eg = ed.star.Require("guinier");
  EXPECT_LT(MaxColumnDifference(rg, eg, "rlnResolutionSquared"), 1e-6);
  EXPECT_LT(MaxColumnDifference(rg, eg, "rlnLogAmplitudesOriginal", 1), 1e-3);
  EXPECT_LT(MaxColumnDifference(rg, eg, "rlnLogAmplitudesSharpened", 1), 1e-2);
  // The EMDB XML: the same resolutions (the FSC values carry the random phases).
  auto xs = [](const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> x;
    for (std::string line; std::getline(in, line);)
      if (line.find("<x>") != std::string::npos) x.push_back(line.substr(line.find("<x>")));
    return x;
  };
  const std::vector<std::string> rx = xs(dir + "/direct/relion_fsc.xml");
  EXPECT_EQ(rx.size(), rf.num_rows());
  EXPECT_EQ(rx, xs(dir + "/direct/emkit/postprocess_fsc.xml"));
  const double direct = RelativeRmsDifference(dir + "/direct/relion.mrc", dir + "/direct/emkit/postprocess.mrc");
  // A detector MTF (a made-up falling curve, its images at 1 Å/px) and a low-pass at 8 Å.
  {
    std::ofstream mtf(dir + "/mtf.star");
    mtf << "data_\n\nloop_\n_rlnResolutionInversePixel\n_rlnMtfValue\n";
    for (int i = 0; i <= 20; ++i) mtf << 0.025 * i << " " << 1 - 0.03 * i - 0.0005 * i * i << "\n";
  }
  const auto [rm, em] = RunBoth(
      dir, "mtf", "--skip_fsc_weighting --auto_bfac --mtf mtf.star --mtf_angpix 1 --low_pass 8",
      "--skip-fsc-weighting --auto-bfac --mtf " + dir + "/mtf.star --mtf-pixel-size 1 " + "--low-pass 8 --seed 1");
  EXPECT_NEAR(em.bfactor, rm.bfactor, 0.005 * std::fabs(rm.bfactor));
  EXPECT_LT(
      MaxColumnDifference(rm.star.Require("guinier"), em.star.Require("guinier"), "rlnLogAmplitudesMTFCorrected", 1),
      1e-3);
  const double mtf = RelativeRmsDifference(dir + "/mtf/relion.mrc", dir + "/mtf/emkit/postprocess.mrc");
  std::printf("sharpened maps, relative rms difference: %.2g; MTF-corrected and low-passed: %.2g\n", direct, mtf);
  EXPECT_LT(direct, 1e-3);
  EXPECT_LT(mtf, 1e-3);
}

TEST(PostprocessRelion, SameResolutionAndBFactorAsRelionPostprocess) {
  if (!HaveRelion()) GTEST_SKIP() << "relion_postprocess is not installed";
  EMKIT_REQUIRE_SHARED_DATA(data);
  const std::string dir = testing::FreshDir("pp");
  MakeHalves(data, dir, 65);
  // emkit's own mask, made as relion_mask_create makes it: the same mask.
  auto own = testing::RunEmkitBinary("postprocess -i " + dir + "/run_half1_class001_unfil.mrc --auto-mask " +
                                     "--mask-threshold 1 --extend_inimask 3 --width_mask_edge 6 --mask-lowpass 15 " +
                                     "--auto-bfac --seed 1 --threads 2 -o " + dir + "/emkit_auto");
  ASSERT_EQ(own.status, 0) << own.err;
  std::printf("%s", own.out.c_str());
  const Image rm = ReadMrc(dir + "/relion_mask.mrc"), em_mask = ReadMrc(dir + "/emkit_auto/postprocess_mask.mrc");
  ASSERT_EQ(rm.size(), em_mask.size());
  double mask_diff = 0, mask_sum = 0;
  for (std::size_t i = 0; i < rm.size(); ++i) {
    mask_diff = std::max(mask_diff, double(std::fabs(rm[i] - em_mask[i])));
    mask_sum += rm[i];
  }
  std::printf("masks: relion_mask_create's holds %.0f voxels; emkit's differs by at most %.2g\n", mask_sum, mask_diff);
  EXPECT_LT(mask_diff, 1e-4);
  CheckDeterministicParts(dir);
  // With the FSC weighting (RELION's default) the B-factor follows the phase-randomised FSC, which
  // changes with the random phases (RELION's own B spreads by ~10% over seeds here): the mean of
  // four seeds.
  double rb = 0, eb = 0;
  for (int seed = 1; seed <= 4; ++seed) {
    const std::string s = std::to_string(seed);
    const auto [r, e] = RunBoth(dir, "seed" + s, "--auto_bfac --autob_lowres 10 --random_seed " + s,
                                "--auto-bfac --autob-lowres 10 --seed " + s);
    rb += r.bfactor / 4;
    eb += e.bfactor / 4;
  }
  std::printf("mean B over 4 seeds: relion_postprocess %.1f, emkit %.1f\n", rb, eb);
  EXPECT_NEAR(eb, rb, 0.1 * std::fabs(rb));
}

TEST(PostprocessRelion, EvenBox) {
  if (!HaveRelion()) GTEST_SKIP() << "relion_postprocess is not installed";
  EMKIT_REQUIRE_SHARED_DATA(data);
  const std::string dir = testing::FreshDir("pp64");
  MakeHalves(data, dir, 64);
  CheckDeterministicParts(dir);  // the Nyquist plane is a shell of its own here
}

}  // namespace
}  // namespace emkit
