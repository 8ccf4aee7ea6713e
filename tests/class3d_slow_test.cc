// emkit class3d from the command line on two simulated conformations (the asymmetric phantom and
// the same without its head and arm): K = 2 from one reference separates them, the outputs are
// RELION's files, the result is the same bit for bit on 1 and 2 threads, and bad input is named.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "core/files.h"
#include "io/mrc.h"
#include "io/particles.h"
#include "io/star.h"
#include "refine/class2d_model.h"
#include "refine/test_maps.h"
#include "tests/testing.h"

namespace emkit {
namespace {

// The reference, dir/ref.mrc: the intact particle reconstructed from its own projections (true angles).
void ReconstructReference(const std::string& dir) {
  auto rec = testing::RunEmkitBinary("reconstruct -i " + dir + "/asym/particles.star -o " + dir +
                                     "/ref.mrc --ctf --threads 2 --quiet");
  ASSERT_EQ(rec.status, 0) << rec.err;
}

// The fraction of particles in their true class, under the better of the two labellings.
double Accuracy(const std::vector<int>& truth, const ParticleSet& out) {
  int same = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) same += out.particles[i].class_number == truth[i];
  return std::max(same, static_cast<int>(truth.size()) - same) / double(truth.size());
}

// Two conformations, interleaved in one particles STAR; returns the true class (1, 2) per particle.
// With `poses`, the STAR keeps each particle's true orientation and offsets (as a consensus
// refinement would give them); otherwise nothing of the truth.
std::vector<int> TwoConformations(const std::string& dir, int n_each, bool poses = false) {
  for (const char* c : {"asym", "asym-broken"}) {
    auto sim = testing::RunEmkitBinary(std::string("simulate particles --phantom ") + c +
                                       " --diameter 150 --pixel-size 5 --box 32 --n " + std::to_string(n_each) +
                                       " --snr 1 --seed " + (std::string(c) == "asym" ? "3" : "4") + " --quiet -o " +
                                       dir + "/" + c);
    EXPECT_EQ(sim.status, 0) << sim.err;
  }
  ParticleSet a = ReadParticles(dir + "/asym/particles.star");
  const ParticleSet b = ReadParticles(dir + "/asym-broken/particles.star");
  ParticleSet all = a;
  all.particles.clear();
  all.source = StarFile();
  std::vector<int> truth;
  for (int i = 0; i < n_each; ++i)
    for (int c = 0; c < 2; ++c) {
      Particle p = (c == 0 ? a : b).particles[i];
      p.image_name = p.image_name.substr(0, p.image_name.find('@') + 1) + dir + "/" +
                     (c == 0 ? "asym" : "asym-broken") + "/particles.mrcs";
      if (!poses) p.rot = p.tilt = p.psi = p.origin_x_angst = p.origin_y_angst = 0;
      p.class_number = 0;
      all.particles.push_back(p);
      truth.push_back(c + 1);
    }
  WriteParticles(dir + "/particles.star", all);
  return truth;
}

TEST(Class3dCli, SeparatesTwoConformationsTheSameOnAnyThreadCount) {
  const std::string dir = testing::FreshDir("class3d");
  const std::vector<int> truth = TwoConformations(dir, 150);
  ASSERT_NO_FATAL_FAILURE(ReconstructReference(dir));
  const std::string common = "class3d -i " + dir + "/particles.star --ref " + dir +
                             "/ref.mrc --K 2 --iter 12 --ini-high 40 --healpix-order 1 --offset-range 2 "
                             "--particle-diameter 150 --seed 7 --quiet";
  ASSERT_NO_FATAL_FAILURE(testing::ExpectSameOnOneAndTwoThreads(
      common, dir, {"run_it012_data.star", "run_it012_class001.mrc", "run_it012_class002.mrc"}));
  for (const char* f : {"run_it000_class001.mrc", "run_it012_model.star", "run_it012_sampling.star",
                        "run_it012_classes.png", "run_class_sizes.star", "run_class_sizes.png"})
    EXPECT_TRUE(std::filesystem::exists(dir + "/t1/" + f)) << f;
  // Assignment accuracy (best labelling of the two classes).
  const ParticleSet out = ReadParticles(dir + "/t1/run_it012_data.star");
  ASSERT_EQ(out.particles.size(), truth.size());
  EXPECT_GT(Accuracy(truth, out), 0.9);
  // Continued from iteration 10's files (rounded to the STAR files' digits), iterations 11-12 assign the
  // particles as the uninterrupted run does.
  auto cont = testing::RunEmkitBinary("class3d --continue " + dir + "/t1/run_it010_model.star --iter 12 " +
                                      "--particle-diameter 150 --seed 7 --quiet --threads 2 -o " + dir + "/t3");
  ASSERT_EQ(cont.status, 0) << cont.err;
  const ParticleSet continued = ReadParticles(dir + "/t3/run_it012_data.star");
  ASSERT_EQ(continued.particles.size(), truth.size());
  int agree = 0;
  for (std::size_t i = 0; i < truth.size(); ++i)
    agree += continued.particles[i].class_number == out.particles[i].class_number;
  EXPECT_GT(agree, 0.97 * truth.size());
  EXPECT_FALSE(std::filesystem::exists(dir + "/t3/run_it010_data.star"));
  // The RELION model: 3D references, one map file per class.
  const std::string model = ReadTextFile(dir + "/t1/run_it012_model.star");
  EXPECT_TRUE(std::regex_search(model, std::regex("_rlnReferenceDimensionality +3\\b")));
  EXPECT_NE(model.find("run_it012_class002.mrc"), std::string::npos);
  // The sampling moved at random (RELION's --perturb 0.5): a fraction of the step in [-0.5, 0.5).
  const std::string sampling = ReadTextFile(dir + "/t1/run_it012_sampling.star");
  EXPECT_TRUE(std::regex_search(sampling, std::regex("_rlnSamplingPerturbFactor +0.50*\\b"))) << sampling;
  std::smatch instance;
  ASSERT_TRUE(std::regex_search(sampling, instance, std::regex("_rlnSamplingPerturbInstance +(\\S+)")));
  EXPECT_NE(std::stod(instance[1].str()), 0);
  EXPECT_LT(std::fabs(std::stod(instance[1].str())), 0.5);
  const Image map = ReadMrc(dir + "/t1/run_it012_class001.mrc");
  EXPECT_EQ(map.nz(), 32);
}

// --skip-align (RELION's --skip_align): particles with their orientations and offsets, from one
// reference, classified without alignment; every pose is kept as it was.
TEST(Class3dCli, SkipAlignClassifiesInTheGivenPoses) {
  const std::string dir = testing::FreshDir("class3d_skip_align");
  const std::vector<int> truth = TwoConformations(dir, 150, true);
  ASSERT_NO_FATAL_FAILURE(ReconstructReference(dir));
  const std::string common = "class3d -i " + dir + "/particles.star --ref " + dir +
                             "/ref.mrc --K 2 --iter 8 --ini-high 40 --particle-diameter 150 --skip-align --seed 7 "
                             "--quiet";
  ASSERT_NO_FATAL_FAILURE(testing::ExpectSameOnOneAndTwoThreads(
      common, dir, {"run_it008_data.star", "run_it008_class001.mrc", "run_it008_class002.mrc"}));
  const ParticleSet in = ReadParticles(dir + "/particles.star");
  const ParticleSet out = ReadParticles(dir + "/t1/run_it008_data.star");
  ASSERT_EQ(out.particles.size(), truth.size());
  for (std::size_t i = 0; i < truth.size(); ++i) {
    const Particle &a = in.particles[i], &b = out.particles[i];
    EXPECT_NEAR(b.rot, a.rot, 1e-3) << i;
    EXPECT_NEAR(b.tilt, a.tilt, 1e-3) << i;
    EXPECT_NEAR(b.psi, a.psi, 1e-3) << i;
    EXPECT_NEAR(b.origin_x_angst, a.origin_x_angst, 1e-3) << i;
    EXPECT_NEAR(b.origin_y_angst, a.origin_y_angst, 1e-3) << i;
  }
  EXPECT_GT(Accuracy(truth, out), 0.95);
  // Without orientations in the STAR there is nothing to keep: named, nothing written.
  StarFile star = ReadStar(dir + "/particles.star");
  StarTable& parts = *star.Find("particles");
  parts = testing::WithoutColumns(parts, [](const std::string& l) { return l.rfind("rlnAngle", 0) == 0; });
  WriteStar(dir + "/no_angles.star", star);
  auto bad = testing::RunEmkitBinary("class3d -i " + dir + "/no_angles.star --ref " + dir +
                                     "/ref.mrc --K 2 --iter 1 --skip-align --quiet -o " + dir + "/bad");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.err.find("no_angles.star"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("rlnAngleRot"), std::string::npos) << bad.err;
  EXPECT_FALSE(std::filesystem::exists(dir + "/bad/run_it001_data.star"));
}

// --strict-highres-exp (RELION's --strict_highres_exp): the probabilities from the frequencies below
// the limit only; the same on 1 and 2 threads, and not the run without the limit.
TEST(Class3dCli, StrictHighresExpTheSameOnAnyThreadCount) {
  const std::string dir = testing::FreshDir("class3d_strict");
  TwoConformations(dir, 60);
  ASSERT_NO_FATAL_FAILURE(ReconstructReference(dir));
  const std::string common = "class3d -i " + dir + "/particles.star --ref " + dir +
                             "/ref.mrc --K 2 --ini-high 20 --healpix-order 1 --offset-range 2 "
                             "--particle-diameter 150 --seed 7 --quiet";
  ASSERT_NO_FATAL_FAILURE(testing::ExpectSameOnOneAndTwoThreads(common + " --iter 3 --strict-highres-exp 25", dir,
                                                                {"run_it003_data.star", "run_it003_class001.mrc"}));
  auto plain = testing::RunEmkitBinary(common + " --iter 3 --threads 2 -o " + dir + "/plain");
  ASSERT_EQ(plain.status, 0) << plain.err;
  EXPECT_NE(ReadTextFile(dir + "/plain/run_it003_data.star"), ReadTextFile(dir + "/t1/run_it003_data.star"));
  // --continue keeps the limit (rlnHighresLimitExpectation of the optimiser.star), as relion_refine does.
  EXPECT_EQ(ReadStrictHighresExp(dir + "/t1/run_it003_optimiser.star"), 25);
  EXPECT_EQ(ReadStrictHighresExp(dir + "/plain/run_it003_optimiser.star"), 0);
  auto cont = testing::RunEmkitBinary("class3d --continue " + dir + "/t1/run_it003_model.star --iter 4 -o " + dir +
                                      "/cont --threads 2");
  ASSERT_EQ(cont.status, 0) << cont.err;
  EXPECT_NE((cont.out + cont.err).find("scored to 25"), std::string::npos) << cont.err;
  EXPECT_EQ(ReadStrictHighresExp(dir + "/cont/run_it004_optimiser.star"), 25);
  // Coarse to fine: both passes at the limit's size. As RELION's adaptive oversampling, each
  // significant offset of the 1 px grid is scored again as 4 offsets a quarter step away in x and
  // y (the grid is not moved: --perturb 0), so every particle's offset is off the 1 px grid.
  auto fine = testing::RunEmkitBinary(
      common + " --threads 2 --iter 1 --oversampling 1 --perturb 0 --strict_highres_exp 25 -o " + dir + "/fine");
  ASSERT_EQ(fine.status, 0) << fine.err;
  const ParticleSet out = ReadParticles(dir + "/fine/run_it001_data.star");
  ASSERT_EQ(out.particles.size(), 120u);
  for (const Particle& p : out.particles)
    for (const double angst : {p.origin_x_angst, p.origin_y_angst}) {
      const double px = angst / 5, frac = px - std::floor(px);
      EXPECT_NEAR(std::fabs(frac - 0.5), 0.25, 1e-3) << p.image_name << " " << px;
    }
}

// --projection-memory only trades time for memory: with the grid's references partly tabulated
// (1 MB of the ~3 MB they take; --norm, whose sums take every reference) or none of them (coarse to
// fine: neither the coarse grid's nor the children), the outputs are those of the default, bit for bit.
TEST(Class3dCli, ProjectionMemoryChangesNoResult) {
  const std::string dir = testing::FreshDir("class3d_projection_memory");
  TwoConformations(dir, 40);
  ASSERT_NO_FATAL_FAILURE(ReconstructReference(dir));
  const std::string common = "class3d -i " + dir + "/particles.star --ref " + dir +
                             "/ref.mrc --K 2 --ini-high 20 --healpix-order 1 --offset-range 2 "
                             "--particle-diameter 150 --seed 7 --quiet --threads 2";
  struct Case {
    std::string flags, memory, file;
  };
  for (const Case& c :
       {Case{" --iter 2 --norm", "1", "run_it002"}, Case{" --iter 1 --oversampling 1", "0", "run_it001"},
        // 1 MB: the scored pixels of the grid's references fit, the whole references do not.
        Case{" --iter 2 --strict-highres-exp 20", "1", "run_it002"}}) {
    const std::string tag = c.memory + std::to_string(c.flags.size());
    const std::string full = dir + "/full" + tag, low = dir + "/low" + tag;
    auto a = testing::RunEmkitBinary(common + c.flags + " -o " + full);
    ASSERT_EQ(a.status, 0) << a.err;
    auto b = testing::RunEmkitBinary(common + c.flags + " --projection-memory " + c.memory + " -o " + low);
    ASSERT_EQ(b.status, 0) << b.err;
    for (const std::string f : {"_data.star", "_class001.mrc", "_class002.mrc"})
      EXPECT_EQ(ReadTextFile(full + "/" + c.file + f), ReadTextFile(low + "/" + c.file + f)) << c.flags << f;
  }
  auto bad = testing::RunEmkitBinary(common + " --iter 1 --projection-memory -1 -o " + dir + "/bad");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.err.find("--projection-memory"), std::string::npos) << bad.err;
}

TEST(Class3dCli, BadInputIsNamed) {
  const std::string dir = testing::FreshDir("class3d_bad");
  auto sim = testing::RunEmkitBinary(
      "simulate particles --phantom asym --diameter 150 --pixel-size 5 --box 32 --n 10 --snr 1 --quiet -o " + dir +
      "/sim");
  ASSERT_EQ(sim.status, 0) << sim.err;
  const std::string star = dir + "/sim/particles.star";
  auto r = testing::RunEmkitBinary("class3d -i " + star + " -o " + dir + "/o --ref " + dir + "/none.mrc");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("none.mrc"), std::string::npos) << r.err;
  WriteMrc(dir + "/small.mrc", Volume(16, 16, 16));
  r = testing::RunEmkitBinary("class3d -i " + star + " -o " + dir + "/o2 --ref " + dir + "/small.mrc");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("small.mrc"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("32"), std::string::npos) << r.err;
  r = testing::RunEmkitBinary("class3d -i " + star + " -o " + dir + "/o3 --ref " + dir + "/small.mrc --sym Q5");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("Q5"), std::string::npos) << r.err;
  r = testing::RunEmkitBinary("class3d -i " + star + " -o " + dir + "/o4 --ref " + dir + "/small.mrc --perturb 1.5");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("--perturb"), std::string::npos) << r.err;
  r = testing::RunEmkitBinary("class3d -i " + star + " -o " + dir + "/o5 --ref " + dir +
                              "/small.mrc --strict-highres-exp -5");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("--strict-highres-exp"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace emkit
