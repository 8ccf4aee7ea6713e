// emkit reconstruct from the command line: simulated particles with known orientations give a
// map that is the same bit for bit on any thread count, keeps the hand of an asymmetric map, and
// bad input is named.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/mrc.h"
#include "refine/test_maps.h"
#include "tests/testing.h"

namespace emkit {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ReconstructCli, SameMapForAnyThreadCount) {
  const std::string dir = testing::FreshDir("rec");
  auto sim = testing::RunEmkitBinary(
      "simulate particles --phantom asym --diameter 150 --pixel-size 5 --box 40 --n 700 "
      "--snr 5 --seed 3 --quiet -o " +
      dir + "/sim");
  ASSERT_EQ(sim.status, 0) << sim.err;
  const std::string star = dir + "/sim/particles.star";
  auto a = testing::RunEmkitBinary("reconstruct -i " + star + " -o " + dir + "/t1.mrc --ctf --threads 1");
  ASSERT_EQ(a.status, 0) << a.err;
  EXPECT_NE(a.out.find("700 particles"), std::string::npos) << a.out;  // 3 blocks of 320 (8 x box)
  auto b = testing::RunEmkitBinary("reconstruct --i " + star + " --o " + dir + "/t2.mrc --ctf --threads 2 --png");
  ASSERT_EQ(b.status, 0) << b.err;
  EXPECT_EQ(Slurp(dir + "/t1.mrc"), Slurp(dir + "/t2.mrc"));
  // The picture: 3 x 2 tiles of at least 160 px (40 px map, zoom 4).
  const std::string png = Slurp(dir + "/t2.png");
  ASSERT_GT(png.size(), 24u);
  auto be32 = [&](std::size_t o) {
    return (unsigned(static_cast<unsigned char>(png[o])) << 24) |
           (unsigned(static_cast<unsigned char>(png[o + 1])) << 16) |
           (unsigned(static_cast<unsigned char>(png[o + 2])) << 8) | unsigned(static_cast<unsigned char>(png[o + 3]));
  };
  EXPECT_EQ(be32(16), 3u * 160 + 16);  // IHDR width
  EXPECT_EQ(be32(20), 2u * 160 + 12);  // IHDR height
  EXPECT_FALSE(std::filesystem::exists(dir + "/t1.png"));
  const Image map = ReadMrc(dir + "/t1.mrc");
  EXPECT_EQ(map.nx(), 40);
  EXPECT_EQ(map.nz(), 40);
  MrcHeader h = ReadMrcHeader(dir + "/t1.mrc");
  EXPECT_NEAR(h.PixelSize(), 5.0, 1e-4);
  // Without the CTF correction the map is a different (CTF-blurred) one.
  auto c = testing::RunEmkitBinary("reconstruct -i " + star + " -o " + dir + "/noctf.mrc");
  ASSERT_EQ(c.status, 0) << c.err;
  EXPECT_NE(Slurp(dir + "/t1.mrc"), Slurp(dir + "/noctf.mrc"));
  // A resolution limit changes the map; the phantom is still there.
  auto d = testing::RunEmkitBinary("reconstruct -i " + star + " -o " + dir + "/lp.mrc --ctf --maxres 20");
  ASSERT_EQ(d.status, 0) << d.err;
  EXPECT_NE(d.out.find("Fourier radius 10 px"), std::string::npos) << d.out;
  EXPECT_GT(testing::CorrelationInSphere(ReadMrc(dir + "/lp.mrc"), map, 18), 0.8);
}

TEST(ReconstructCli, BadInputIsNamed) {
  const std::string dir = testing::FreshDir("bad");
  auto r = testing::RunEmkitBinary("reconstruct -i " + dir + "/missing.star -o " + dir + "/m.mrc");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("missing.star"), std::string::npos) << r.err;
  auto sim = testing::RunEmkitBinary(
      "simulate particles --phantom asym --diameter 150 --pixel-size 5 --box 40 --n 20 "
      "--snr 5 --quiet -o " +
      dir + "/sim");
  ASSERT_EQ(sim.status, 0) << sim.err;
  r = testing::RunEmkitBinary("reconstruct -i " + dir + "/sim/particles.star -o " + dir + "/m.mrc --sym X7");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("X7"), std::string::npos) << r.err;
  r = testing::RunEmkitBinary("reconstruct -i " + dir + "/sim/particles.star -o " + dir + "/m.mrc --subset 1");
  EXPECT_NE(r.status, 0);  // no rlnRandomSubset in the file
  EXPECT_NE(r.err.find("--subset"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir + "/m.mrc"));
  // No orientations: refused, naming the column (not reconstructed with all angles 0).
  std::ofstream(dir + "/noangles.star") << "data_particles\nloop_\n_rlnImageName #1\n000001@" << dir
                                        << "/sim/particles.mrcs\n";
  r = testing::RunEmkitBinary("reconstruct -i " + dir + "/noangles.star -o " + dir + "/m.mrc --pixel-size 5");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("rlnAngleRot"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir + "/m.mrc"));
}

// ../shared/data/maps/hand_64.mrc reconstructed from its projections keeps its hand.
TEST(ReconstructCli, KeepsTheHandOfAnAsymmetricMap) {
  EMKIT_REQUIRE_SHARED_DATA(data);
  const std::string dir = testing::FreshDir("hand");
  const std::string map = data + "/maps/hand_64.mrc";
  auto sim = testing::RunEmkitBinary("simulate particles --map " + map +
                                     " --n 400 --no-ctf --snr 20 --seed 5 --quiet -o " + dir + "/sim");
  ASSERT_EQ(sim.status, 0) << sim.err;
  auto r = testing::RunEmkitBinary("reconstruct -i " + dir + "/sim/particles.star -o " + dir + "/hand.mrc");
  ASSERT_EQ(r.status, 0) << r.err;
  const Image truth = ReadMrc(map), rec = ReadMrc(dir + "/hand.mrc");
  ASSERT_EQ(rec.nx(), truth.nx());
  const int n = truth.nx();
  Image mirror(n, n, n);
  for (int z = 0; z < n; ++z)
    for (int y = 0; y < n; ++y)
      for (int x = 0; x < n; ++x) mirror(x, y, z) = truth(x, y, (n - z) % n);
  // The map's power beyond Nyquist (the corners of its transform) is not in any reconstruction, so
  // the real-space correlation stays below 1 (0.84, as relion_reconstruct's).
  const double same = testing::CorrelationInSphere(rec, truth, n / 2 - 2),
               flipped = testing::CorrelationInSphere(rec, mirror, n / 2 - 2);
  EXPECT_GT(same, 0.8);
  EXPECT_LT(flipped, same - 0.2) << "same " << same << " mirror " << flipped;
}

}  // namespace
}  // namespace emkit
