// emkit refine3d from the command line on a simulated phantom: from a reference low-passed to
// 40 Å the gold-standard refinement converges (auto-sampling to local searches, then the joined
// final iteration), finds the particles' orientations to a few degrees, writes RELION's files,
// is the same bit for bit on 1 and 2 threads, continues from an iteration's optimiser.star, and
// names bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "core/files.h"
#include "core/geometry.h"
#include "io/mrc.h"
#include "io/particles.h"
#include "io/star.h"
#include "refine/class2d_model.h"
#include "tests/testing.h"

namespace emkit {
namespace {

// A rotation matrix as a unit quaternion (w, x, y, z).
std::array<double, 4> Quaternion(const Mat3& m) {
  const double t = m(0, 0) + m(1, 1) + m(2, 2);
  std::array<double, 4> q;
  if (t > 0) {
    const double s = 2 * std::sqrt(1 + t);
    q = {s / 4, (m(2, 1) - m(1, 2)) / s, (m(0, 2) - m(2, 0)) / s, (m(1, 0) - m(0, 1)) / s};
  } else if (m(0, 0) > m(1, 1) && m(0, 0) > m(2, 2)) {
    const double s = 2 * std::sqrt(1 + m(0, 0) - m(1, 1) - m(2, 2));
    q = {(m(2, 1) - m(1, 2)) / s, s / 4, (m(0, 1) + m(1, 0)) / s, (m(0, 2) + m(2, 0)) / s};
  } else if (m(1, 1) > m(2, 2)) {
    const double s = 2 * std::sqrt(1 + m(1, 1) - m(0, 0) - m(2, 2));
    q = {(m(0, 2) - m(2, 0)) / s, (m(0, 1) + m(1, 0)) / s, s / 4, (m(1, 2) + m(2, 1)) / s};
  } else {
    const double s = 2 * std::sqrt(1 + m(2, 2) - m(0, 0) - m(1, 1));
    q = {(m(1, 0) - m(0, 1)) / s, (m(0, 2) + m(2, 0)) / s, (m(1, 2) + m(2, 1)) / s, s / 4};
  }
  return q;
}

struct OrientationErrors {
  double frame_deg = 0;   // the rotation between the refined map's frame and the truth's
  double median_deg = 0;  // median error of the particles once that rotation is removed
};

// A map refined from a low-passed start may sit slightly rotated against the truth (its frame is
// only defined to the start's resolution): each particle's A_true^T A_refined is that rotation
// plus its own error. The frame is their mean (quaternion average), the errors their distances to it.
OrientationErrors Errors(const std::string& refined, const std::string& truth) {
  const ParticleSet a = ReadParticles(refined), b = ReadParticles(truth);
  EXPECT_EQ(a.particles.size(), b.particles.size());
  std::vector<Mat3> d;
  for (std::size_t i = 0; i < a.particles.size() && i < b.particles.size(); ++i) {
    const Particle &p = a.particles[i], &q = b.particles[i];
    d.push_back(EulerToMatrix({q.rot, q.tilt, q.psi}).Transposed() * EulerToMatrix({p.rot, p.tilt, p.psi}));
  }
  std::array<double, 4> mean = {0, 0, 0, 0};
  const std::array<double, 4> first = Quaternion(d.front());
  for (const Mat3& m : d) {
    std::array<double, 4> q = Quaternion(m);
    const double dot = q[0] * first[0] + q[1] * first[1] + q[2] * first[2] + q[3] * first[3];
    for (int k = 0; k < 4; ++k) mean[k] += dot < 0 ? -q[k] : q[k];
  }
  const double norm = std::sqrt(mean[0] * mean[0] + mean[1] * mean[1] + mean[2] * mean[2] + mean[3] * mean[3]);
  for (double& v : mean) v /= norm;
  OrientationErrors out;
  out.frame_deg = 2 * std::acos(std::min(1.0, std::fabs(mean[0]))) * 180 / M_PI;
  std::vector<double> err;
  for (const Mat3& m : d) {
    const std::array<double, 4> q = Quaternion(m);
    const double dot = std::fabs(q[0] * mean[0] + q[1] * mean[1] + q[2] * mean[2] + q[3] * mean[3]);
    err.push_back(2 * std::acos(std::min(1.0, dot)) * 180 / M_PI);
  }
  std::sort(err.begin(), err.end());
  out.median_deg = err[err.size() / 2];
  return out;
}

// The particles without their true angles and origins.
void StripTruth(const std::string& in, const std::string& out) {
  ParticleSet s = ReadParticles(in);
  for (Particle& p : s.particles) p.rot = p.tilt = p.psi = p.origin_x_angst = p.origin_y_angst = 0;
  s.source = StarFile();
  WriteParticles(out, s);
}

// `n` simulated particles of the asymmetric phantom (dir/sim, with the truth), the same without
// angles or origins (dir/particles.star) and the reference reconstructed from the truth (dir/ref.mrc).
void SimulateRefineInput(const std::string& dir, int n) {
  auto sim = testing::RunEmkitBinary("simulate particles --phantom asym --diameter 150 --pixel-size 5 --box 32 --n " +
                                     std::to_string(n) + " --snr 1 --seed 3 --quiet -o " + dir + "/sim");
  ASSERT_EQ(sim.status, 0) << sim.err;
  auto rec = testing::RunEmkitBinary("reconstruct -i " + dir + "/sim/particles.star -o " + dir +
                                     "/ref.mrc --ctf --threads 2 --quiet");
  ASSERT_EQ(rec.status, 0) << rec.err;
  StripTruth(dir + "/sim/particles.star", dir + "/particles.star");
}

TEST(Refine3dCli, ConvergesToTheTrueOrientationsTheSameOnAnyThreadCount) {
  const std::string dir = testing::FreshDir("refine3d");
  ASSERT_NO_FATAL_FAILURE(SimulateRefineInput(dir, 200));
  const std::string common = "refine3d -i " + dir + "/particles.star --ref " + dir +
                             "/ref.mrc --ini-high 40 --healpix-order 1 --auto-local-healpix-order 3 --offset-range 3 "
                             "--particle-diameter 150 --iter 30 --seed 7 --quiet";
  ASSERT_NO_FATAL_FAILURE(testing::ExpectSameOnOneAndTwoThreads(
      common, dir,
      {"run_data.star", "run_class001.mrc", "run_half1_class001_unfil.mrc", "run_half2_class001_unfil.mrc",
       "run_it003_half1_class001.mrc", "run_it003_data.star"}));
  for (const char* f : {"run_model.star", "run_sampling.star", "run_fsc.png", "run_fsc.star", "run_class001.png",
                        "run_it000_half1_class001.mrc", "run_it003_half2_model.star", "run_it003_optimiser.star"})
    EXPECT_TRUE(std::filesystem::exists(dir + "/t1/" + f)) << f;
  // Orientations to a few degrees (the last sampling step is below 75% of the estimated accuracy),
  // in a frame within a few degrees of the truth's.
  const OrientationErrors error = Errors(dir + "/t1/run_data.star", dir + "/sim/particles.star");
  EXPECT_LT(error.median_deg, 3.0);
  EXPECT_LT(error.frame_deg, 10.0);
  // RELION's files: two halves (rlnRandomSubset), a model with the gold-standard FSC and the
  // resolution at FSC 0.143, local searches reached.
  const ParticleSet out = ReadParticles(dir + "/t1/run_data.star");
  int half1 = 0;
  for (const Particle& p : out.particles) half1 += p.random_subset == 1;
  EXPECT_EQ(half1, 100);
  const StarFile model = ReadStar(dir + "/t1/run_model.star");
  const double resolution = model.Require("model_general").GetDouble(0, "rlnCurrentResolution");
  EXPECT_LT(resolution, 25.0);
  EXPECT_GE(resolution, 10.0);
  const StarTable& c = model.Require("model_class_1");
  EXPECT_GT(c.GetDouble(4, "rlnGoldStandardFsc"), 0.9);
  const std::string sampling = ReadTextFile(dir + "/t1/run_sampling.star");
  EXPECT_TRUE(std::regex_search(sampling, std::regex("_rlnOrientationalPriorMode +1\\b"))) << sampling;

  // Continued from iteration 3's files, the run converges as the uninterrupted one does.
  auto cont = testing::RunEmkitBinary("refine3d --continue " + dir + "/t1/run_it003_optimiser.star --iter 30 " +
                                      "--seed 7 --quiet --threads 2 -o " + dir + "/t3");
  ASSERT_EQ(cont.status, 0) << cont.err;
  EXPECT_FALSE(std::filesystem::exists(dir + "/t3/run_it003_data.star"));
  EXPECT_LT(Errors(dir + "/t3/run_data.star", dir + "/sim/particles.star").median_deg, 3.0);
  const double cont_resolution =
      ReadStar(dir + "/t3/run_model.star").Require("model_general").GetDouble(0, "rlnCurrentResolution");
  EXPECT_NEAR(1 / cont_resolution, 1 / resolution, 1.5 / (32 * 5));  // within a shell and a half
}

// --strict-highres-exp (RELION's --strict_highres_exp): the orientations from the frequencies below
// the limit; the same on 1 and 2 threads, not the run without the limit, and a bad value is named.
TEST(Refine3dCli, StrictHighresExpTheSameOnAnyThreadCount) {
  const std::string dir = testing::FreshDir("refine3d_strict");
  ASSERT_NO_FATAL_FAILURE(SimulateRefineInput(dir, 100));
  const std::string common = "refine3d -i " + dir + "/particles.star --ref " + dir +
                             "/ref.mrc --ini-high 30 --healpix-order 1 --offset-range 2 --particle-diameter 150 "
                             "--iter 2 --seed 7 --quiet";
  ASSERT_NO_FATAL_FAILURE(testing::ExpectSameOnOneAndTwoThreads(
      common + " --strict-highres-exp 25", dir, {"run_it002_data.star", "run_it002_half1_class001.mrc"}));
  auto plain = testing::RunEmkitBinary(common + " --threads 2 -o " + dir + "/plain");
  ASSERT_EQ(plain.status, 0) << plain.err;
  EXPECT_NE(ReadTextFile(dir + "/plain/run_it002_data.star"), ReadTextFile(dir + "/t1/run_it002_data.star"));
  // --continue keeps the limit (rlnHighresLimitExpectation), as relion_refine does.
  EXPECT_EQ(ReadStrictHighresExp(dir + "/t1/run_it002_optimiser.star"), 25);
  EXPECT_EQ(ReadStrictHighresExp(dir + "/plain/run_it002_optimiser.star"), 0);
  auto cont = testing::RunEmkitBinary("refine3d --continue " + dir + "/t1/run_it002_optimiser.star --iter 3 -o " + dir +
                                      "/t1 --threads 2 --quiet");
  ASSERT_EQ(cont.status, 0) << cont.err;
  EXPECT_EQ(ReadStrictHighresExp(dir + "/t1/run_it003_optimiser.star"), 25);
  auto bad = testing::RunEmkitBinary(common + " --strict_highres_exp -1 -o " + dir + "/bad");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.err.find("--strict-highres-exp"), std::string::npos) << bad.err;
}

// --projection-memory 0 (no projection tabulated: the coarse grid's and the children projected as
// they are scored) gives the default's outputs bit for bit.
TEST(Refine3dCli, ProjectionMemoryChangesNoResult) {
  const std::string dir = testing::FreshDir("refine3d_projection_memory");
  ASSERT_NO_FATAL_FAILURE(SimulateRefineInput(dir, 60));
  const std::string common = "refine3d -i " + dir + "/particles.star --ref " + dir +
                             "/ref.mrc --ini-high 30 --healpix-order 1 --offset-range 2 --particle-diameter 150 "
                             "--iter 2 --seed 7 --quiet --threads 2";
  auto full = testing::RunEmkitBinary(common + " -o " + dir + "/full");
  ASSERT_EQ(full.status, 0) << full.err;
  auto low = testing::RunEmkitBinary(common + " --projection-memory 0 -o " + dir + "/low");
  ASSERT_EQ(low.status, 0) << low.err;
  for (const std::string f : {"run_it002_data.star", "run_it002_half1_class001.mrc", "run_it002_half2_class001.mrc"})
    EXPECT_EQ(ReadTextFile(dir + "/full/" + f), ReadTextFile(dir + "/low/" + f)) << f;
}

TEST(Refine3dCli, BadInputIsNamed) {
  const std::string dir = testing::FreshDir("refine3d_bad");
  auto sim = testing::RunEmkitBinary(
      "simulate particles --phantom asym --diameter 150 --pixel-size 5 --box 32 --n 10 --snr 1 --quiet -o " + dir +
      "/sim");
  ASSERT_EQ(sim.status, 0) << sim.err;
  const std::string star = dir + "/sim/particles.star";
  WriteMrc(dir + "/ref.mrc", Volume(32, 32, 32));
  auto r = testing::RunEmkitBinary("refine3d -i " + star + " -o " + dir + "/o --ref " + dir + "/none.mrc");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("none.mrc"), std::string::npos) << r.err;
  r = testing::RunEmkitBinary("refine3d -i " + star + " -o " + dir + "/o2 --ref " + dir + "/ref.mrc --K 2");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("class3d"), std::string::npos) << r.err;
  r = testing::RunEmkitBinary("refine3d -i " + star + " -o " + dir + "/o3 --ref " + dir + "/ref.mrc --solvent-mask " +
                              dir + "/nomask.mrc");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("nomask.mrc"), std::string::npos) << r.err;
  // Half of the particles with a random subset and half without: refused, naming the file.
  ParticleSet s = ReadParticles(star);
  for (std::size_t i = 0; i < s.particles.size(); ++i) s.particles[i].random_subset = i < 5 ? 1 : 0;
  WriteParticles(dir + "/mixed.star", s);
  r = testing::RunEmkitBinary("refine3d -i " + dir + "/mixed.star -o " + dir + "/o4 --ref " + dir + "/ref.mrc");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("mixed.star"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("rlnRandomSubset"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace emkit
