// emkit simulate on the command line: outputs, the offsets convention, determinism across
// thread counts, SNR measured on the output, bad input refused before anything is written.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/filters.h"
#include "io/coordinates.h"
#include "io/mrc.h"
#include "io/particles.h"
#include "tests/testing.h"

namespace emkit {
namespace {
using testing::RunEmkitBinary;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The file with every occurrence of `from` replaced by `to` (output folders differ).
std::string SlurpReplacing(const std::string& path, const std::string& from, const std::string& to) {
  std::string s = Slurp(path);
  for (std::size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
    s.replace(p, from.size(), to);
  return s;
}

TEST(SimulateCli, ParticlesWriteStackStarAndOptions) {
  const std::string dir = testing::FreshDir("p");
  auto r = RunEmkitBinary(
      "simulate particles --phantom asym --n 20 --pixel-size 5 --snr 0.1 --write-noiseless -q --out " + dir + "/out");
  ASSERT_EQ(r.status, 0) << r.err;
  const ParticleSet set = ReadParticles(dir + "/out/particles.star");
  ASSERT_EQ(set.particles.size(), 20u);
  EXPECT_DOUBLE_EQ(set.optics[0].pixel_size, 5);
  const MrcHeader h = ReadMrcHeader(dir + "/out/particles.mrcs");
  EXPECT_EQ(h.nz, 20);
  EXPECT_EQ(h.nx, set.optics[0].image_size);
  EXPECT_NEAR(h.PixelSize(), 5, 1e-4);
  EXPECT_TRUE(std::filesystem::exists(dir + "/out/particles_noiseless.mrcs"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/out/emkit_simulate_options.toml"));
  for (const auto& p : set.particles) {
    EXPECT_EQ(p.class_number, 1);
    EXPECT_GE(p.ctf.defocus_u, 10000 - 250);
    EXPECT_LE(p.ctf.defocus_u, 25000 + 250);
    EXPECT_LE(std::fabs(p.origin_x_angst), 10 + 1e-6);  // default: 2 pixels
  }
}

TEST(SimulateCli, SnrMeasuredOnTheOutputIsTheRequestedOne) {
  const std::string dir = testing::FreshDir("snr");
  auto r = RunEmkitBinary(
      "simulate particles --phantom asym --n 300 --pixel-size 5 --snr 0.2 --write-noiseless -q --out " + dir);
  ASSERT_EQ(r.status, 0) << r.err;
  const Image noisy = ReadMrc(dir + "/particles.mrcs"), clean = ReadMrc(dir + "/particles_noiseless.mrcs");
  double signal_var = 0, noise_var = 0;
  for (int i = 0; i < noisy.nz(); ++i) {
    Image a = noisy.Section(i), b = clean.Section(i);
    const Stats sb = ComputeStats(b);
    signal_var += sb.stddev * sb.stddev;
    for (std::size_t k = 0; k < a.size(); ++k) a[k] -= b[k];
    const Stats sn = ComputeStats(a);
    noise_var += sn.stddev * sn.stddev;
  }
  EXPECT_NEAR(signal_var / noise_var, 0.2, 0.2 * 0.05);
}

TEST(SimulateCli, OffsetsFollowRelion) {
  // The image holds the projection moved by -origin: the particle with origin (+10, -5) Å at
  // 5 Å/px is the centred one moved by (-2, +1) pixels.
  const std::string dir = testing::FreshDir("off");
  std::ofstream(dir + "/a.star") << "data_particles\nloop_\n_rlnImageName\n_rlnAngleRot\n_rlnAngleTilt\n_rlnAnglePsi\n"
                                    "_rlnOriginXAngst\n_rlnOriginYAngst\n"
                                    "1@x.mrcs 10 40 70 0 0\n2@x.mrcs 10 40 70 10 -5\n";
  auto r = RunEmkitBinary("simulate particles --phantom asym --pixel-size 5 --no-ctf --write-noiseless -q --angles " +
                          dir + "/a.star --out " + dir + "/o");
  ASSERT_EQ(r.status, 0) << r.err;
  const Image s = ReadMrc(dir + "/o/particles_noiseless.mrcs");
  const Image a = s.Section(0), b = s.Section(1);
  const int n = a.nx();
  double max_diff = 0, max_val = 0;
  for (int y = 2; y < n - 2; ++y)
    for (int x = 2; x < n - 2; ++x) {
      max_diff = std::max(max_diff, double(std::fabs(b(x, y) - a(x + 2, y - 1))));
      max_val = std::max(max_val, double(std::fabs(a(x, y))));
    }
  EXPECT_LT(max_diff, 1e-3 * max_val);
}

TEST(SimulateCli, MicrographsAreDeterministicAcrossThreadCounts) {
  const std::string dir = testing::FreshDir("det");
  const std::string args = "simulate micrographs --phantom asym --n 3 --size 256 --pixel-size 5 --diameter 150 -q";
  ASSERT_EQ(RunEmkitBinary(args + " --threads 1 --out " + dir + "/a").status, 0);
  ASSERT_EQ(RunEmkitBinary(args + " --threads 2 --out " + dir + "/b").status, 0);
  ASSERT_EQ(RunEmkitBinary(args + " --threads 2 --seed 7 --out " + dir + "/c").status, 0);
  for (const char* f : {"micrographs/mic_0001.mrc", "micrographs/mic_0003.mrc", "truth/mic_0002.star",
                        "truth/mic_0002_decoys.star", "truth.star", "micrographs.star"}) {
    EXPECT_TRUE(SlurpReplacing(dir + "/a/" + f, dir + "/a/", dir + "/b/") == Slurp(dir + "/b/" + f)) << f;
  }
  EXPECT_TRUE(Slurp(dir + "/a/micrographs/mic_0001.mrc") != Slurp(dir + "/c/micrographs/mic_0001.mrc"));
  const std::string p = "simulate particles --phantom asym --n 40 --pixel-size 5 -q";
  ASSERT_EQ(RunEmkitBinary(p + " --threads 1 --out " + dir + "/p1").status, 0);
  ASSERT_EQ(RunEmkitBinary(p + " --threads 2 --out " + dir + "/p2").status, 0);
  EXPECT_TRUE(Slurp(dir + "/p1/particles.mrcs") == Slurp(dir + "/p2/particles.mrcs"));
  EXPECT_TRUE(SlurpReplacing(dir + "/p1/particles.star", dir + "/p1/", dir + "/p2/") ==
              Slurp(dir + "/p2/particles.star"));
}

TEST(SimulateCli, MicrographTruthDoesNotOverlapAndSnrHolds) {
  const std::string dir = testing::FreshDir("mic");
  auto r = RunEmkitBinary(
      "simulate micrographs --phantom asym --n 2 --nx 512 --ny 384 --pixel-size 5 --diameter 150 "
      "--no-decoys --ice-gradient 0 --hard-negatives none --snr 0.1 --touching 0.5 --write-noiseless "
      "-q --out " +
      dir);
  ASSERT_EQ(r.status, 0) << r.err;
  const Image mic = ReadMrc(dir + "/micrographs/mic_0001.mrc");
  EXPECT_EQ(mic.nx(), 512);
  EXPECT_EQ(mic.ny(), 384);
  const auto coords = ReadCoordinates(dir + "/truth/mic_0001.star");
  ASSERT_GT(coords.size(), 5u);
  const double d = 150 / 5.0;
  int touching = 0;
  std::vector<unsigned char> mask(mic.size(), 0);
  for (std::size_t i = 0; i < coords.size(); ++i) {
    EXPECT_GE(coords[i].x, d / 2 - 1e-6);
    EXPECT_LE(coords[i].x, 512 - d / 2 + 1e-6);
    EXPECT_GE(coords[i].y, d / 2 - 1e-6);
    EXPECT_LE(coords[i].y, 384 - d / 2 + 1e-6);
    double nearest = 1e9;
    for (std::size_t j = 0; j < coords.size(); ++j)
      if (j != i) nearest = std::min(nearest, std::hypot(coords[i].x - coords[j].x, coords[i].y - coords[j].y));
    EXPECT_GE(nearest, d - 1e-6);
    touching += nearest < 1.06 * d;
    for (int y = 0; y < mic.ny(); ++y)
      for (int x = 0; x < mic.nx(); ++x)
        if (std::hypot(x - coords[i].x, y - coords[i].y) <= d / 2) mask[static_cast<std::size_t>(y) * mic.nx() + x] = 1;
  }
  EXPECT_GT(touching, 0);
  // SNR over the particle discs, measured on the files.
  const Image clean = ReadMrc(dir + "/noiseless/mic_0001.mrc");
  double s1 = 0, s2 = 0, n1 = 0, n2 = 0, cnt = 0;
  for (std::size_t k = 0; k < mic.size(); ++k) {
    const double noise = mic[k] - clean[k];
    n1 += noise, n2 += noise * noise;
    if (mask[k]) s1 += clean[k], s2 += double(clean[k]) * clean[k], ++cnt;
  }
  const double var_s = s2 / cnt - (s1 / cnt) * (s1 / cnt),
               var_n = n2 / mic.size() - (n1 / mic.size()) * (n1 / mic.size());
  EXPECT_NEAR(var_s / var_n, 0.1, 0.002);
  // Dark particles by default: the noiseless image is lower where the particles are.
  EXPECT_LT(s1 / cnt, 0.0);
  const MicrographSet mics = ReadMicrographs(dir + "/micrographs.star");
  ASSERT_EQ(mics.micrographs.size(), 2u);
  EXPECT_TRUE(mics.micrographs[0].has_ctf);
  EXPECT_NEAR(mics.optics[0].pixel_size, 5, 1e-6);
  const ParticleSet truth = ReadParticles(dir + "/truth.star");
  EXPECT_GT(truth.particles.size(), coords.size());
}

TEST(SimulateCli, BadInputIsRefusedBeforeAnythingIsWritten) {
  const std::string dir = testing::FreshDir("bad");
  {
    Image v(16, 16, 20);
    WriteMrc(dir + "/noncubic.mrc", v, {2.0, MrcKind::kVolume});
  }
  struct Case {
    std::string args, message;
  };
  const std::vector<Case> cases = {
      {"particles --map " + dir + "/noncubic.mrc", "not cubic"},
      {"particles --phantom asym --snr 0", "--snr: must be > 0"},
      {"particles --phantom asym --snr -1", "--snr: must be > 0"},
      {"micrographs --phantom asym --size 256 --pixel-size 5 --particles 500", "more particles than fit"},
      {"particles --phantom nosuch", "unknown"},
  };
  for (const auto& c : cases) {
    auto r = RunEmkitBinary("simulate " + c.args + " -q --out " + dir + "/out");
    EXPECT_NE(r.status, 0) << c.args;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << ": " << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir + "/out")) << c.args;
  }
}

TEST(SimulateCli, MapPixelSizeMustMatchOrBeGiven) {
  EMKIT_REQUIRE_SHARED_DATA(data);
  const std::string dir = testing::FreshDir("px");
  auto r = RunEmkitBinary("simulate particles --map " + data + "/maps/ribosome70s_65.mrc -q --n 2 --out " + dir + "/a");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("no pixel size"), std::string::npos) << r.err;
  r = RunEmkitBinary("simulate particles --map " + data + "/maps/hand_64.mrc --pixel-size 2 -q --n 2 --out " + dir +
                     "/b");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("does not match"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir + "/b"));
  r = RunEmkitBinary("simulate particles --map " + data + "/maps/ribosome70s_65.mrc --pixel-size 5 -q --n 2 --out " +
                     dir + "/c");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(ReadMrcHeader(dir + "/c/particles.mrcs").nx, 66);
  // --rescale resamples the 1 Å/px map to 2 Å/px: a 32 px box of the same 64 Å.
  r = RunEmkitBinary("simulate particles --map " + data + "/maps/hand_64.mrc --pixel-size 2 --rescale -q --n 2 --out " +
                     dir + "/d");
  EXPECT_EQ(r.status, 0) << r.err;
  const MrcHeader h = ReadMrcHeader(dir + "/d/particles.mrcs");
  EXPECT_EQ(h.nx, 32);
  EXPECT_NEAR(h.PixelSize(), 2, 1e-5);
}

}  // namespace
}  // namespace emkit
