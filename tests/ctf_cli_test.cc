// emkit ctf end to end on synthetic micrographs with known CTF made here.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "core/ctf.h"
#include "core/fft.h"
#include "core/files.h"
#include "core/random.h"
#include "io/mrc.h"
#include "io/particles.h"
#include "io/png.h"
#include "tests/testing.h"

namespace emkit {
namespace {
using testing::RunEmkitBinary;

// White noise through the CTF plus white noise: Thon rings on a flat background.
Image RingsMicrograph(const CtfParams& ctf, int n, double px, uint64_t seed) {
  Rng rng(seed, 3);
  Image a(n, n, 1), b(n, n, 1);
  for (auto& v : a) v = static_cast<float>(rng.Normal());
  for (auto& v : b) v = static_cast<float>(rng.Normal());
  FourierGrid f = Fft(a);
  const Ctf model(ctf);
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < f.half_nx(); ++x)
      f.grid()(x, y) *= static_cast<float>(model.Value(x / (n * px), FourierGrid::Freq(y, n) / (n * px)));
  Image s = InverseFft(f);
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = 1.2f * s[i] + b[i];
  return s;
}

CtfParams Ctf2(double u, double v, double angle) {
  CtfParams p;
  p.defocus_u = u;
  p.defocus_v = v;
  p.defocus_angle = angle;
  return p;
}

TEST(CtfCli, EstimatesEveryMicrographIntoAMicrographsStar) {
  const std::string dir = testing::FreshDir("ctf");
  CreateDirectories(dir + "/mics");
  const CtfParams truth[2] = {Ctf2(16000, 15200, 40), Ctf2(24000, 23800, 100)};
  for (int m = 0; m < 2; ++m) {
    MrcWriteOptions o;
    o.pixel_size = 1.5;
    WriteMrc(dir + "/mics/mic_" + std::to_string(m + 1) + ".mrc", RingsMicrograph(truth[m], 768, 1.5, m), o);
  }
  const auto r = RunEmkitBinary("ctf -i '" + dir + "/mics/*.mrc' -o " + dir + "/ctf --box 256 --threads 2 -q");
  ASSERT_EQ(r.status, 0) << r.err;
  const MicrographSet set = ReadMicrographs(dir + "/ctf/micrographs.star");
  ASSERT_EQ(set.micrographs.size(), 2u);
  EXPECT_DOUBLE_EQ(set.Optics(1).pixel_size, 1.5);  // from the MRC headers
  EXPECT_DOUBLE_EQ(set.Optics(1).voltage_kv, 300);
  for (int m = 0; m < 2; ++m) {
    const MicrographEntry& e = set.micrographs[m];
    EXPECT_EQ(Basename(e.name), "mic_" + std::to_string(m + 1) + ".mrc");
    ASSERT_TRUE(e.has_ctf);
    const double mean = 0.5 * (truth[m].defocus_u + truth[m].defocus_v);
    EXPECT_NEAR(0.5 * (e.ctf.defocus_u + e.ctf.defocus_v), mean, 0.01 * mean);
    EXPECT_GE(e.ctf.defocus_u, e.ctf.defocus_v);
    EXPECT_GT(e.ctf_max_resolution, 2 * 1.5);
    EXPECT_LT(e.ctf_max_resolution, 8);
    EXPECT_GT(e.ctf_figure_of_merit, 0.1);
    EXPECT_TRUE(FileExists(dir + "/ctf/pictures/mic_" + std::to_string(m + 1) + "_ctf.png"));
    // rlnCtfImage names the diagnostic spectrum as RELION does ("file.ctf:mrc").
    EXPECT_EQ(e.ctf_image, dir + "/ctf/Spectra/mic_" + std::to_string(m + 1) + ".ctf:mrc");
    EXPECT_EQ(ReadMrcHeader(dir + "/ctf/Spectra/mic_" + std::to_string(m + 1) + ".ctf").nx, 256);
  }
  EXPECT_LT(std::fabs(set.micrographs[0].ctf.defocus_angle - 40), 5);
  EXPECT_TRUE(FileExists(dir + "/ctf/emkit_ctf.done"));
  EXPECT_TRUE(FileExists(dir + "/ctf/ctf_summary.json"));
  // The same micrographs from the STAR just written: the same defocus.
  const auto again =
      RunEmkitBinary("ctf -i " + dir + "/ctf/micrographs.star -o " + dir + "/ctf2 --box 256 --no-pictures -q");
  ASSERT_EQ(again.status, 0) << again.err;
  const MicrographSet set2 = ReadMicrographs(dir + "/ctf2/micrographs.star");
  ASSERT_EQ(set2.micrographs.size(), 2u);
  EXPECT_NEAR(set2.micrographs[1].ctf.defocus_u, set.micrographs[1].ctf.defocus_u, 1e-3);
  EXPECT_FALSE(std::filesystem::exists(dir + "/ctf2/pictures"));
  // --pixel-size overrides the STAR's, in the estimate and in the optics written.
  const auto px = RunEmkitBinary("ctf -i " + dir + "/ctf/micrographs.star -o " + dir +
                                 "/ctf3 --box 256 --no-pictures --pixel-size 1.6 -q");
  ASSERT_EQ(px.status, 0) << px.err;
  EXPECT_DOUBLE_EQ(ReadMicrographs(dir + "/ctf3/micrographs.star").Optics(1).pixel_size, 1.6);
}

TEST(CtfCli, ImagesWithoutPixelSizeNeedOne) {
  const std::string dir = testing::FreshDir("ctf_png");
  CreateDirectories(dir + "/mics");
  WritePng(dir + "/mics/a.png", RingsMicrograph(Ctf2(15000, 15000, 0), 512, 1.5, 4));
  auto r = RunEmkitBinary("ctf -i " + dir + "/mics -o " + dir + "/out --box 256 -q");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("a.png: no pixel size"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--pixel-size"), std::string::npos) << r.err;
  r = RunEmkitBinary("ctf -i " + dir + "/mics -o " + dir + "/out --box 256 --pixel-size 1.5 -q --overwrite");
  EXPECT_EQ(r.status, 0) << r.err;
  r = RunEmkitBinary("ctf -i " + dir + "/mics -o " + dir + "/out2 --box 1024 --pixel-size 1.5 -q");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("smaller than the spectrum box"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("a.png"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace emkit

namespace emkit {
namespace {
using testing::RunEmkitBinary;

bool Has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// One 768^2 micrograph with Thon rings and a 3 x 3 grid of coordinates.
void MakeMicrograph(const std::string& dir) {
  CreateDirectories(dir + "/mics");
  MrcWriteOptions o;
  o.pixel_size = 1.5;
  WriteMrc(dir + "/mics/m1.mrc", RingsMicrograph(Ctf2(18000, 17000, 30), 768, 1.5, 21), o);
  std::string text = "X-Coordinate,Y-Coordinate\n";
  for (int gy = 0; gy < 3; ++gy)
    for (int gx = 0; gx < 3; ++gx) text += std::to_string(150 + 230 * gx) + "," + std::to_string(150 + 230 * gy) + "\n";
  CreateDirectories(dir + "/coords");
  WriteTextFile(dir + "/coords/m1.csv", text);
}

const char* kClass2d = " --K 2 --iter 1 --psi-step 30 --offset-range 2 --offset-step 1 --threads 2 -q --no-png";

TEST(CtfFlow, DefocusFlowsFromCtfToParticles) {
  const std::string dir = testing::FreshDir("flow");
  MakeMicrograph(dir);
  auto r = RunEmkitBinary("ctf -i " + dir + "/mics -o " + dir + "/ctf --box 256 --no-pictures -q");
  ASSERT_EQ(r.status, 0) << r.err;
  const MicrographSet mics = ReadMicrographs(dir + "/ctf/micrographs.star");
  r = RunEmkitBinary("extract -i " + dir + "/ctf/micrographs.star -c " + dir + "/coords --box 64 -o " + dir + "/ex -q");
  ASSERT_EQ(r.status, 0) << r.err;
  const ParticleSet set = ReadParticles(dir + "/ex/particles.star");
  ASSERT_EQ(set.particles.size(), 9u);
  EXPECT_TRUE(set.has_ctf);
  for (const auto& p : set.particles) {
    EXPECT_NEAR(p.ctf.defocus_u, mics.micrographs[0].ctf.defocus_u, 0.01);
    EXPECT_NEAR(p.ctf.defocus_v, mics.micrographs[0].ctf.defocus_v, 0.01);
    EXPECT_NEAR(p.ctf.defocus_angle, mics.micrographs[0].ctf.defocus_angle, 0.01);
  }
  EXPECT_NEAR(0.5 * (set.particles[0].ctf.defocus_u + set.particles[0].ctf.defocus_v), 17500, 175);
  // class2d with the CTF on takes them (checked before the first iteration).
  r = RunEmkitBinary("class2d -i " + dir + "/ex/particles.star -o " + dir + "/c2d --particle-diameter 80" + kClass2d);
  EXPECT_EQ(r.status, 0) << r.err;
}

TEST(CtfFlow, CtfCorrectingStepsRefuseParticlesWithoutCtf) {
  const std::string dir = testing::FreshDir("noctf");
  MakeMicrograph(dir);
  MicrographSet plain;
  plain.optics.push_back(OpticsGroup{});
  plain.optics[0].pixel_size = 1.5;
  MicrographEntry e;
  e.name = dir + "/mics/m1.mrc";
  plain.micrographs.push_back(e);
  WriteMicrographs(dir + "/mics.star", plain);
  EXPECT_FALSE(ReadMicrographs(dir + "/mics.star").micrographs[0].has_ctf);  // no placeholder columns
  auto r = RunEmkitBinary("extract -i " + dir + "/mics.star -c " + dir + "/coords --box 64 -o " + dir + "/ex");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(Has(r.err, "emkit ctf")) << r.err;  // the warning says what to do
  const ParticleSet set = ReadParticles(dir + "/ex/particles.star");
  ASSERT_EQ(set.particles.size(), 9u);
  EXPECT_FALSE(set.has_ctf);
  EXPECT_FALSE(set.source.Find("particles")->Has("rlnDefocusU"));
  // class2d (CTF on by default) refuses them, naming emkit ctf and --no-ctf ...
  r = RunEmkitBinary("class2d -i " + dir + "/ex/particles.star -o " + dir + "/c2d --particle-diameter 80" + kClass2d);
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(Has(r.err, "particles.star: no CTF")) << r.err;
  EXPECT_TRUE(Has(r.err, "emkit ctf")) << r.err;
  EXPECT_TRUE(Has(r.err, "--no-ctf")) << r.err;
  r = RunEmkitBinary("class2d -i " + dir + "/ex/particles.star -o " + dir + "/c2d --no-ctf --particle-diameter 80" +
                     kClass2d);
  EXPECT_EQ(r.status, 0) << r.err;
  // ... as does reconstruct --ctf.
  r = RunEmkitBinary("reconstruct -i " + dir + "/ex/particles.star -o " + dir + "/map.mrc --ctf");
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(Has(r.err, "emkit ctf")) << r.err;
  EXPECT_TRUE(Has(r.err, "leave out --ctf")) << r.err;
  // The placeholder an earlier extract wrote (15000 Å everywhere) is no CTF either.
  ParticleSet old = set;
  old.has_ctf = true;
  for (auto& p : old.particles) p.ctf = CtfParams();
  WriteParticles(dir + "/old.star", old);
  r = RunEmkitBinary("class2d -i " + dir + "/old.star -o " + dir + "/c2d_old --particle-diameter 80" + kClass2d);
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(Has(r.err, "placeholder")) << r.err;
  EXPECT_TRUE(Has(r.err, "emkit ctf")) << r.err;
  // pick --ctf on micrographs without CTF names emkit ctf too.
  r = RunEmkitBinary("pick --method template -i " + dir + "/mics.star --reference-map " + dir +
                     "/mics/m1.mrc --diameter 60 --ctf -o " + dir + "/picks");
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(Has(r.err, "emkit ctf")) << r.err;
}

}  // namespace
}  // namespace emkit
