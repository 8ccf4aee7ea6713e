#include "picker/template_matcher.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/geometry.h"
#include "core/random.h"
#include "picker/evaluate.h"
#include "picker/log_picker.h"
#include "picker/pick.h"

namespace emkit {
namespace {

// An asymmetric particle: a big and a small Gaussian lobe ("L"-ish), white on zero.
Image Particle(int box, double psi = 0) {
  Image p(box, box);
  const double c = box / 2;
  const double a = psi * M_PI / 180;
  for (int y = 0; y < box; ++y)
    for (int x = 0; x < box; ++x) {
      // Rotate the sampling point back by psi (counter-clockwise image rotation).
      const double dx = x - c, dy = y - c;
      const double u = std::cos(a) * dx + std::sin(a) * dy, v = -std::sin(a) * dx + std::cos(a) * dy;
      p(x, y) = static_cast<float>(std::exp(-(u * u + v * v) / (2 * 16.0)) +
                                   0.8 * std::exp(-((u - 8) * (u - 8) + v * v) / (2 * 6.0)));
    }
  return p;
}

void Paste(Image* mic, const Image& p, int cx, int cy, float scale) {
  const int b = p.nx();
  for (int y = 0; y < b; ++y)
    for (int x = 0; x < b; ++x) {
      const int X = cx - b / 2 + x, Y = cy - b / 2 + y;
      if (X >= 0 && Y >= 0 && X < mic->nx() && Y < mic->ny()) (*mic)(X, Y) += scale * p(x, y);
    }
}

TEST(TemplateMatching, FftNccEqualsBruteForceLocalNcc) {
  const int box = 32;
  ImageStack refs = {Particle(box)};
  Image mic(96, 80);
  Rng rng(5, 0);
  for (auto& v : mic) v = static_cast<float>(rng.Normal());
  Paste(&mic, Particle(box), 40, 40, 3);
  TemplateOptions opt;
  opt.diameter = 24;
  opt.lowpass_angstrom = 2;    // at Nyquist: the smooth reference is not changed
  opt.psi_step = 360;          // one rotation
  opt.correlation_pixel = -1;  // full resolution
  TemplateScoreMapper mapper(refs, 1.0, opt);
  PreprocessedMicrograph pre;
  pre.image = mic;
  pre.pixel_size = 1;
  Image fom = mapper.Score(pre);
  ASSERT_TRUE(fom.SameShape(mic));
  // Brute force: t' = reference, mean-subtracted under the disk of radius 12, unit norm.
  const double R = 12;
  const Image& t = refs[0];
  double tm = 0;
  int n = 0;
  for (int y = 0; y < box; ++y)
    for (int x = 0; x < box; ++x)
      if ((x - 16) * (x - 16) + (y - 16) * (y - 16) <= R * R) tm += t(x, y), ++n;
  tm /= n;
  double tn = 0;
  for (int y = 0; y < box; ++y)
    for (int x = 0; x < box; ++x)
      if ((x - 16) * (x - 16) + (y - 16) * (y - 16) <= R * R) tn += (t(x, y) - tm) * (t(x, y) - tm);
  for (auto [px, py] : {std::pair<int, int>{40, 40}, {30, 45}, {60, 20}, {50, 50}}) {
    double c = 0, s = 0, s2 = 0;
    for (int y = 0; y < box; ++y)
      for (int x = 0; x < box; ++x) {
        if ((x - 16) * (x - 16) + (y - 16) * (y - 16) > R * R) continue;
        const double m = mic(px + x - 16, py + y - 16);
        c += (t(x, y) - tm) * m;
        s += m;
        s2 += m * m;
      }
    const double var = s2 - s * s / n;
    const double ncc = c / std::sqrt(tn) / std::sqrt(var);
    EXPECT_NEAR(fom(px, py), ncc, 2e-3) << "at " << px << "," << py;
  }
  EXPECT_GT(fom(40, 40), 0.5);
}

TEST(TemplateMatching, FindsRotatedParticlesAmongDecoysAndRecoversPsi) {
  const int box = 40;
  Image mic(512, 512);
  Rng rng(11, 0);
  for (auto& v : mic) v = static_cast<float>(rng.Normal());
  std::vector<Coordinate> truth;
  std::vector<double> psis;
  for (int gy = 0; gy < 6; ++gy)
    for (int gx = 0; gx < 6; ++gx) {
      const int x = 45 + gx * 84, y = 45 + gy * 84;
      if ((gx + gy) % 3 == 0) {  // decoy: a flat disk of the particle's size
        Image d(box, box);
        for (int yy = 0; yy < box; ++yy)
          for (int xx = 0; xx < box; ++xx)
            d(xx, yy) = (xx - 20) * (xx - 20) + (yy - 20) * (yy - 20) <= 121 ? 0.8f : 0.0f;
        Paste(&mic, d, x, y, 2);
        continue;
      }
      const double psi = rng.Uniform(0, 360);
      Paste(&mic, Particle(box, psi), x, y, 2);
      Coordinate c;
      c.x = x;
      c.y = y;
      truth.push_back(c);
      psis.push_back(psi);
    }
  // Dark particles in the raw micrograph, 2 Å/px.
  for (auto& v : mic) v = -v;
  MicrographInput in;
  in.name = in.path = "synthetic.mrc";
  in.pixel_size = 2;
  PickOptions opt;
  opt.diameter = 56;  // Å: 28 px
  opt.threshold = 0.3;
  opt.preprocess.invert = true;
  opt.threads = 2;
  TemplateOptions topt;
  topt.diameter = opt.diameter;
  topt.lowpass_angstrom = 8;
  topt.threads = 2;
  TemplateScoreMapper mapper({Particle(box)}, 2.0, topt);
  EXPECT_EQ(mapper.num_rotations(), 36);
  PickResult r = PickMicrograph(mic, in, &mapper, opt);
  // Decoys score lower than every particle: the ranking is perfect, and a threshold between
  // them separates the two.
  PickMetrics m = EvaluatePicks(r.picks, truth, 14, opt.threshold);
  EXPECT_NEAR(m.average_precision, 1.0, 1e-9) << m.n_picks << " picks";
  EXPECT_NEAR(m.best_f1, 1.0, 1e-9);
  // Matched picks carry the right in-plane angle (within the 10-degree step, modulo 360).
  int good = 0;
  for (auto [i, j] : MatchPicks(r.picks, truth, 14)) {
    // RELION's psi rotates the reference by -psi (RotateImage); Particle() turns by +psi.
    double d = std::fmod(std::fabs(r.picks[i].psi - (360 - psis[j])), 360.0);
    d = std::min(d, 360 - d);
    if (d <= 15) ++good;
    EXPECT_EQ(r.picks[i].class_number, 1);
  }
  EXPECT_GE(good, static_cast<int>(truth.size()) - 2);
  // LoG on the same micrograph finds the blobs too, decoys included (it cannot tell them apart).
  LogOptions lopt;
  lopt.diameter_min = 40;
  lopt.diameter_max = 70;
  LogScoreMapper log(lopt);
  opt.threshold = 2;
  PickResult lr = PickMicrograph(mic, in, &log, opt);
  PickMetrics lm = EvaluatePicks(lr.picks, truth, 14, opt.threshold);
  EXPECT_GE(lm.recall, 0.9);
  EXPECT_LT(lm.average_precision, 0.9);
}

TEST(TemplateMatching, ResultsDoNotDependOnThreadCount) {
  Image mic(200, 160);
  Rng rng(3, 0);
  for (auto& v : mic) v = static_cast<float>(rng.Normal());
  Paste(&mic, Particle(32, 40), 100, 80, 3);
  PreprocessedMicrograph pre;
  pre.image = mic;
  pre.pixel_size = 2;
  TemplateOptions opt;
  opt.diameter = 50;
  opt.psi_step = 30;
  opt.threads = 1;
  Image a = TemplateScoreMapper({Particle(32)}, 2.0, opt).Score(pre);
  opt.threads = 2;
  Image b = TemplateScoreMapper({Particle(32)}, 2.0, opt).Score(pre);
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]);
  // Pre-whitened scoring finds a round particle exactly where it is.
  Image round(32, 32);
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 32; ++x)
      round(x, y) = static_cast<float>(std::exp(-((x - 16) * (x - 16) + (y - 16) * (y - 16)) / 40.0));
  Image mic2 = mic;
  Paste(&mic2, round, 60, 40, 4);
  pre.image = mic2;
  opt.whiten = true;
  Image w = TemplateScoreMapper({round}, 2.0, opt).Score(pre);
  int bx = 0, by = 0;
  for (int y = 0; y < w.ny(); ++y)
    for (int x = 0; x < w.nx(); ++x)
      if (w(x, y) > w(bx, by)) bx = x, by = y;
  EXPECT_NEAR(bx, 60, 1);
  EXPECT_NEAR(by, 40, 1);
}

TEST(TemplateMatching, RejectsBadInput) {
  TemplateOptions opt;
  EXPECT_THROW(TemplateScoreMapper({Particle(32)}, 1.0, opt), std::exception);  // no diameter
  opt.diameter = 20;
  EXPECT_THROW(TemplateScoreMapper({}, 1.0, opt), std::exception);
  EXPECT_THROW(TemplateScoreMapper({Image(32, 16)}, 1.0, opt), std::exception);
}

}  // namespace
}  // namespace emkit
