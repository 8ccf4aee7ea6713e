// emkit class2d through the command line: continuing RELION 3.1.3's own Class2D run (made with
// --norm --scale, which the continued run keeps), and clear errors for bad input.
#include <cmath>
#include <filesystem>

#include "core/fft.h"
#include "core/filters.h"
#include "io/mrc.h"
#include "io/particles.h"
#include "refine/class2d_model.h"
#include "tests/testing.h"

namespace emkit {
namespace {

TEST(Class2dCli, ContinuesRelionClass2dRun) {
  EMKIT_REQUIRE_SHARED_DATA(data);
  const std::string relion = data + "/relion/class2d";
  const std::string out = testing::FreshDir("c2d");
  const auto r = testing::RunEmkitBinary("class2d --continue " + relion + "/run_it005_optimiser.star --iter 6 --o " +
                                         out + " --threads 2 -q");
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_TRUE(std::filesystem::exists(out + "/run_it006_model.star"));
  ASSERT_TRUE(std::filesystem::exists(out + "/run_it006_classes.png"));
  const ParticleSet before = ReadParticles(relion + "/run_it005_data.star");
  const ParticleSet after = ReadParticles(out + "/run_it006_data.star");
  ASSERT_EQ(after.particles.size(), 500u);
  int same = 0;
  for (std::size_t i = 0; i < 500; ++i) same += before.particles[i].class_number == after.particles[i].class_number;
  // RELION's own <Pmax> is 0.08 at iteration 5, so assignments still move; chance is 20%.
  EXPECT_GE(same, 250) << "class assignments kept from RELION's iteration 5";
  const Image relion_classes = ReadMrc(relion + "/run_it005_classes.mrcs");
  const Image ours = ReadMrc(out + "/run_it006_classes.mrcs");
  ASSERT_EQ(ours.nz(), 5);
  for (int k = 0; k < 5; ++k)
    EXPECT_GT(Correlation(ours.Section(k), relion_classes.Section(k)), 0.5) << "class " << k + 1;
  // RELION's groups (one per micrograph) and corrections are read and carried on.
  const Class2dModel relion_model = ReadModelStar(relion + "/run_it005_model.star");
  ASSERT_EQ(relion_model.groups.size(), 5u);
  EXPECT_EQ(relion_model.groups[0].name, "mic000.mrc");
  EXPECT_NEAR(relion_model.groups[0].scale, 0.973099, 1e-6);
  EXPECT_NEAR(relion_model.avg_norm, 0.826043, 1e-6);
  const Class2dModel model = ReadModelStar(out + "/run_it006_model.star");
  ASSERT_EQ(model.groups.size(), 5u);
  for (int g = 0; g < 5; ++g) {
    EXPECT_EQ(model.groups[g].name, relion_model.groups[g].name);
    EXPECT_EQ(model.groups[g].particles, 100);
    EXPECT_NEAR(model.groups[g].scale, relion_model.groups[g].scale, 0.1) << "group " << g + 1;
  }
  EXPECT_NEAR(model.avg_norm, relion_model.avg_norm, 0.1 * relion_model.avg_norm);
  const StarTable* t = after.source.Find(after.particles_block);
  ASSERT_TRUE(t && t->Has("rlnNormCorrection"));
  int close = 0;
  const StarTable* tb = before.source.Find(before.particles_block);
  for (std::size_t i = 0; i < 500; ++i)
    close += std::fabs(t->GetDouble(i, "rlnNormCorrection") / tb->GetDouble(i, "rlnNormCorrection") - 1) < 0.1;
  EXPECT_GE(close, 450) << "norm corrections within 10% of RELION's iteration 5";
}

// --strict-highres-exp (RELION's --strict_highres_exp): the probabilities from the frequencies
// below the limit, the class averages to the current size; the same on 1 and 2 threads, and not the
// run without the limit.
TEST(Class2dCli, StrictHighresExpTheSameOnAnyThreadCount) {
  const std::string dir = testing::FreshDir("c2d_strict");
  auto sim = testing::RunEmkitBinary(
      "simulate particles --phantom asym --diameter 150 --pixel-size 5 --box 32 --n 60 --snr 1 --seed 3 --quiet -o " +
      dir + "/sim");
  ASSERT_EQ(sim.status, 0) << sim.err;
  const std::string common =
      "class2d -i " + dir + "/sim/particles.star --K 3 --particle-diameter 150 " + "--ignore-offsets --seed 7";
  ASSERT_NO_FATAL_FAILURE(testing::ExpectSameOnOneAndTwoThreads(common + " --iter 3 --strict-highres-exp 25 -q", dir,
                                                                {"run_it003_data.star", "run_it003_classes.mrcs"}));
  auto plain = testing::RunEmkitBinary(common + " --iter 3 --threads 2 -o " + dir + "/plain");
  ASSERT_EQ(plain.status, 0) << plain.err;
  EXPECT_NE(ReadTextFile(dir + "/plain/run_it003_data.star"), ReadTextFile(dir + "/t1/run_it003_data.star"));
  EXPECT_EQ(plain.err.find("scored to"), std::string::npos) << plain.err;
  // The averages keep the current size: frequencies beyond the limit's 12 px are not empty.
  const Image classes = ReadMrc(dir + "/t1/run_it003_classes.mrcs");
  const Image first = classes.Section(0);
  const FourierGrid f = CentredFft(first);
  double beyond = 0;
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 17; ++x) {
      const int ky = FourierGrid::Freq(y, 32);
      if (x * x + ky * ky > 8 * 8 && x * x + ky * ky < 10 * 10) beyond += std::norm(f.At(x, ky));
    }
  EXPECT_GT(beyond, 0);
  auto logged = testing::RunEmkitBinary(common + " --iter 1 --strict_highres_exp 25 --threads 2 -o " + dir + "/log");
  ASSERT_EQ(logged.status, 0) << logged.err;
  EXPECT_NE((logged.out + logged.err).find("scored to 25"), std::string::npos) << logged.err;
  // --continue keeps the limit (rlnHighresLimitExpectation of the optimiser.star), as relion_refine does.
  EXPECT_EQ(ReadStrictHighresExp(dir + "/t1/run_it003_optimiser.star"), 25);
  EXPECT_EQ(ReadStrictHighresExp(dir + "/plain/run_it003_optimiser.star"), 0);
  auto cont = testing::RunEmkitBinary("class2d --continue " + dir + "/t1/run_it003_optimiser.star --iter 4 -o " + dir +
                                      "/cont --threads 2");
  ASSERT_EQ(cont.status, 0) << cont.err;
  EXPECT_NE((cont.out + cont.err).find("scored to 25"), std::string::npos) << cont.err;
}

TEST(Class2dCli, RejectsBadInput) {
  const std::string out = testing::FreshDir("bad");
  auto r = testing::RunEmkitBinary("class2d --i " + out + "/missing.star --o " + out + "/o");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("missing.star"), std::string::npos) << r.err;
  r = testing::RunEmkitBinary("class2d --i x.star --o " + out + " --K 0");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("--K"), std::string::npos) << r.err;
  r = testing::RunEmkitBinary("class2d --i x.star --o " + out + " --strict-highres-exp -3");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("--strict-highres-exp"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace emkit
