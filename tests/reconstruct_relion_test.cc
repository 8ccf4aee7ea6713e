// emkit reconstruct against relion_reconstruct (Debian's RELION 3.1.3) on the same particles:
// the same algorithm (trilinear insertion, Pipe & Menon gridding weights with RELION's blob,
// sinc^2 correction) must give the same map, greyscale included.
#include <gtest/gtest.h>

#include <cmath>

#include "io/mrc.h"
#include "refine/fsc.h"
#include "tests/testing.h"

namespace emkit {
namespace {

bool HaveRelionReconstruct() { return testing::RunCommand("command -v relion_reconstruct").status == 0; }

// `rim`: the Fourier radius inserted (Nyquist, or --maxres's).
void Check(const std::string& dir, const std::string& star, const std::string& flags, const std::string& name,
           int rim) {
  auto rel = testing::RunCommand("cd " + dir + " && relion_reconstruct --i " + star + " --o " + name + "_relion.mrc " +
                                 flags + " > " + name + "_relion.log 2>&1");
  ASSERT_EQ(rel.status, 0) << "relion_reconstruct failed, see " << dir;
  auto em = testing::RunEmkitBinary("reconstruct -i " + dir + "/" + star + " -o " + dir + "/" + name + "_emkit.mrc " +
                                    flags + " --threads 2");
  ASSERT_EQ(em.status, 0) << em.err;
  const Image r = ReadMrc(dir + "/" + name + "_relion.mrc"), e = ReadMrc(dir + "/" + name + "_emkit.mrc");
  ASSERT_EQ(r.size(), e.size());
  const std::vector<double> fsc = Fsc(e, r);
  const int nyquist = static_cast<int>(fsc.size()) - 1;
  std::printf("%s: FSC emkit vs relion_reconstruct, every 4th shell:", name.c_str());
  for (int s = 4; s <= nyquist; s += 4) std::printf(" %d:%.4f", s, fsc[s]);
  std::printf(" Nyquist:%.4f\n", fsc[nyquist]);
  // The same algorithm: identical up to float rounding, except at the rim of the Fourier sphere,
  // where RELION keeps or drops pixels exactly on the r_max circle by the rounding of their rotated
  // coordinates, and the gridding weights amplify those few differences.
  for (int s = 1; s <= rim * 8 / 10; ++s) EXPECT_GT(fsc[s], 0.995) << name << " shell " << s;
  for (int s = rim * 8 / 10; s <= rim; ++s) EXPECT_GT(fsc[s], 0.9) << name << " shell " << s;
  // The same greyscale: the ratio of the maps' projections onto each other.
  double ee = 0, er = 0, rr = 0;
  for (std::size_t i = 0; i < e.size(); ++i)
    ee += double(e[i]) * e[i], er += double(e[i]) * r[i], rr += double(r[i]) * r[i];
  EXPECT_NEAR(er / rr, 1.0, 0.02) << name;
}

TEST(ReconstructRelion, SameMapAsRelionReconstruct) {
  if (!HaveRelionReconstruct()) GTEST_SKIP() << "relion_reconstruct is not installed";
  const std::string dir = testing::FreshDir("relion");
  auto sim = testing::RunEmkitBinary(
      "simulate particles --phantom asym --diameter 150 --pixel-size 5 --box 40 --n 1000 "
      "--snr 1 --seed 4 --quiet -o " +
      dir + "/sim");
  ASSERT_EQ(sim.status, 0) << sim.err;
  Check(dir, "sim/particles.star", "", "plain", 20);
  Check(dir, "sim/particles.star", "--ctf", "ctf", 20);
  Check(dir, "sim/particles.star", "--ctf --sym D2 --maxres 15", "d2", 14);  // ceil(40 x 5 / 15)
}

}  // namespace
}  // namespace emkit
