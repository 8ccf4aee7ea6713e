// emkit extract -> relion_refine: RELION 3.1 accepts emkit's particles (stacks + particles.star)
// for one Class2D iteration, and emkit reads RELION's run_it001_data.star back.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/files.h"
#include "io/mrc.h"
#include "io/particles.h"
#include "tests/testing.h"

namespace emkit {
namespace {

TEST(ExtractRelion, RelionRefineClass2DAcceptsExtractedParticles) {
  if (testing::RunCommand("command -v relion_refine").status != 0) GTEST_SKIP() << "relion_refine is not installed";
  const std::string dir = testing::FreshDir("extract_relion");
  // Two simulated micrographs with 50 particles each (built-in phantom, no shared data).
  auto r = testing::RunEmkitBinary(
      "simulate micrographs --phantom asym --diameter 150 --pixel-size 5 --n 2 --size 512 "
      "--particles 50 --snr 0.1 --no-decoys --hard-negatives none --threads 2 -o " +
      dir + "/sim");
  ASSERT_EQ(r.status, 0) << r.err;
  r = testing::RunEmkitBinary("extract -i " + dir + "/sim/micrographs.star -c " + dir + "/sim/truth -o " + dir +
                              "/ext --box 48 --invert-contrast --threads 2");
  ASSERT_EQ(r.status, 0) << r.err;
  const ParticleSet extracted = ReadParticles(dir + "/ext/particles.star");
  ASSERT_GE(extracted.particles.size(), 60u);
  EXPECT_EQ(extracted.optics.at(0).image_size, 48);
  EXPECT_DOUBLE_EQ(extracted.optics.at(0).pixel_size, 5.0);

  CreateDirectories(dir + "/c2d");
  r = testing::RunCommand("cd " + dir +
                          " && relion_refine --i ext/particles.star --o c2d/run --ctf --iter 1 "
                          "--tau2_fudge 2 --particle_diameter 160 --K 2 --flatten_solvent --zero_mask "
                          "--oversampling 1 --psi_step 12 --offset_range 3 --offset_step 2 --norm --scale "
                          "--j 2 --random_seed 1 --dont_combine_weights_via_disc --pool 10");
  ASSERT_EQ(r.status, 0) << r.out.substr(r.out.size() > 3000 ? r.out.size() - 3000 : 0) << r.err;
  const ParticleSet back = ReadParticles(dir + "/c2d/run_it001_data.star");
  ASSERT_EQ(back.particles.size(), extracted.particles.size());
  int classified = 0;
  for (const auto& p : back.particles) classified += p.class_number == 1 || p.class_number == 2;
  EXPECT_EQ(classified, static_cast<int>(back.particles.size()));
  EXPECT_EQ(back.particles[0].micrograph_name, extracted.particles[0].micrograph_name);
  EXPECT_NEAR(back.particles[0].ctf.defocus_u, extracted.particles[0].ctf.defocus_u, 1e-3);
  MrcHeader h = ReadMrcHeader(dir + "/c2d/run_it001_classes.mrcs");
  EXPECT_EQ(h.nz, 2);
  EXPECT_EQ(h.nx, 48);
}

}  // namespace
}  // namespace emkit
