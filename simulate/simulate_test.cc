// Phantoms, map loading checks, placement and micrograph composition.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/ctf.h"
#include "core/ctf_estimate.h"
#include "core/error.h"
#include "core/fft.h"
#include "core/filters.h"
#include "io/mrc.h"
#include "io/particles.h"
#include "simulate/compose.h"
#include "simulate/micrographs.h"
#include "simulate/particles.h"
#include "simulate/phantom.h"
#include "simulate/placement.h"

namespace emkit {
namespace {

std::string TempDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/emkit_simulate_" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

Volume MirrorX(const Volume& v) {
  Volume m(v.nx(), v.ny(), v.nz());
  const int n = v.nx();
  for (int z = 0; z < n; ++z)
    for (int y = 0; y < n; ++y)
      for (int x = 0; x < n; ++x) m(x, y, z) = v((n - x) % n, y, z);
  return m;
}

TEST(Phantom, IsDeterministicChiralAndFillsItsDiameter) {
  const Volume a = MakePhantom("asym", 64, 4, 200), b = MakePhantom("asym", 64, 4, 200);
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]);
  // No mirror symmetry: its mirror image matches poorly under the identity.
  EXPECT_LT(Correlation(a, MirrorX(a)), 0.8);
  const double d = EstimateDiameter(a, 4);
  EXPECT_GT(d, 0.8 * 200);
  EXPECT_LT(d, 1.25 * 200);
  EXPECT_GT(ComputeStats(a).max, 0.5);
  EXPECT_GE(ComputeStats(a).min, 0.0);
  // The Gaussian phantom is sigma = diameter / 6: 99% of the mass above 5% of the peak
  // lies within r = sigma sqrt(2 ln 20).
  const double dg = EstimateDiameter(MakePhantom("gaussian", 64, 4, 120), 4);
  EXPECT_NEAR(dg, 2 * (20 * std::sqrt(2 * std::log(20.0)) + 4), 8);
  EXPECT_THROW(MakePhantom("nosuch", 32, 4, 100), InvalidInputError);
}

TEST(Phantom, BrokenAndSecondSpeciesDiffer) {
  const Volume a = MakePhantom("asym", 64, 4, 200);
  const Volume broken = BrokenVersion(a, 4, 200);
  double ma = 0, mb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) ma += a[i], mb += broken[i];
  EXPECT_LT(mb, 0.9 * ma);
  EXPECT_GT(mb, 0.4 * ma);
  const Volume rod = MakePhantom("rod", 64, 4, 200);
  EXPECT_LT(Correlation(a, rod), 0.8);
  const Volume ab = MakePhantom("asym-broken", 64, 4, 200);
  EXPECT_LT(Correlation(a, ab), 0.95);
}

TEST(SimMap, LoadingChecksShapeAndPixelSize) {
  const std::string dir = TempDir("load");
  WriteMrc(dir + "/noncubic.mrc", Volume(16, 16, 18), {2.0, MrcKind::kVolume});
  WriteMrc(dir + "/cube.mrc", MakePhantom("gaussian", 32, 2.0, 30), {2.0, MrcKind::kVolume});
  WriteMrc(dir + "/nopixel.mrc", MakePhantom("gaussian", 32, 2.0, 30), {2.0, MrcKind::kVolume});
  {
    // Zero cella (bytes 40-51), as in maps written without a pixel size.
    std::FILE* f = std::fopen((dir + "/nopixel.mrc").c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    const float zero[3] = {0, 0, 0};
    std::fseek(f, 40, SEEK_SET);
    std::fwrite(zero, sizeof(float), 3, f);
    std::fclose(f);
  }
  try {
    LoadSimMap(dir + "/noncubic.mrc", 0, false);
    FAIL();
  } catch (const InvalidInputError& e) {
    EXPECT_NE(std::string(e.what()).find("noncubic.mrc: the map is not cubic (16x16x18)"), std::string::npos)
        << e.what();
  }
  EXPECT_NEAR(LoadSimMap(dir + "/cube.mrc", 0, false).pixel_size, 2.0, 1e-5);
  EXPECT_NEAR(LoadSimMap(dir + "/cube.mrc", 2.0, false).pixel_size, 2.0, 1e-5);
  EXPECT_THROW(LoadSimMap(dir + "/cube.mrc", 3.0, false), InvalidInputError);
  EXPECT_NEAR(LoadSimMap(dir + "/cube.mrc", 3.0, true).pixel_size, 2.0, 1e-5);  // the projector resamples
  EXPECT_THROW(LoadSimMap(dir + "/nopixel.mrc", 0, false), InvalidInputError);
  const SimMap m = LoadSimMap(dir + "/nopixel.mrc", 2.5, false);
  EXPECT_DOUBLE_EQ(m.pixel_size, 2.5);
  EXPECT_NEAR(m.diameter, 30 * 2.5 / 2.0 * 1.0, 12);
}

TEST(Placement, RandomAndTouchingDiscsNeverOverlap) {
  DiscPlacer placer(600, 400, 20);
  Rng rng(1, 2);
  auto anywhere = [](double, double) { return true; };
  Disc d;
  int placed = 0, touching = 0;
  placer.PlaceRandom(&rng, 60, 0, anywhere, &d);  // a big decoy first
  for (int i = 0; i < 150; ++i) {
    if (i > 0 && i % 3 == 0) {
      const Disc nb = placer.discs()[1 + rng.UniformInt(0, placed - 1)];
      if (placer.PlaceTouching(&rng, nb, 12, 1.0, 0, anywhere, &d)) {
        ++placed, ++touching;
        EXPECT_LE(std::hypot(d.x - nb.x, d.y - nb.y), nb.r + 12 + 1.0 + 1e-6);
        continue;
      }
    }
    if (placer.PlaceRandom(&rng, 12, 0, anywhere, &d)) ++placed;
  }
  EXPECT_GT(placed, 100);
  EXPECT_GT(touching, 10);
  const auto& all = placer.discs();
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_TRUE(placer.Inside(all[i], 0));
    for (std::size_t j = i + 1; j < all.size(); ++j)
      EXPECT_GE(std::hypot(all[i].x - all[j].x, all[i].y - all[j].y), all[i].r + all[j].r - 1e-9);
  }
}

// Composition of one 256^2 micrograph at 5 Å/px with the given tweaks.
struct Composed {
  ComposedMicrograph info;
  Image mic, clean;
};
Composed Compose(void (*tweak)(MicrographSimOptions*)) {
  MicrographSimOptions opt;
  opt.phantom = "asym";
  opt.phantom_diameter = 150;
  opt.pixel_size = 5;
  opt.nx = opt.ny = 256;
  opt.ice_blobs = opt.aggregates = 0;
  opt.carbon_edge = 0;
  opt.ice_gradient = 0;
  opt.out = "unused";
  if (tweak) tweak(&opt);
  opt.Check();
  ComposeSetup setup;
  setup.pixel_size = 5;
  setup.nx = opt.nx;
  setup.ny = opt.ny;
  setup.targets.push_back(MakeSource(MakeSimPhantom("asym", 5, 150), 5));
  setup.targets_per_micrograph = 12;
  Composed c;
  c.info = ComposeMicrograph(setup, opt, 0, 1, &c.mic, &c.clean);
  return c;
}

// Power of the shells below / above a quarter of Nyquist.
std::pair<double, double> LowHighPower(const Image& img) {
  const auto p = RadialPowerSpectrum(Fft(img));
  double lo = 0, hi = 0;
  const std::size_t q = p.size() / 4;
  for (std::size_t i = 1; i < p.size(); ++i) (i < q ? lo : hi) += p[i];
  return {lo / (q - 1), hi / (p.size() - q)};
}

TEST(Compose, IceThroughTheCtfGivesThonRings) {
  // Noise that passes the CTF carries the micrograph's Thon rings: CTF estimation finds its
  // defocus; without it the rings are too faint to fit.
  auto tweak_ice = [](MicrographSimOptions* o) {
    o->nx = o->ny = 512;
    o->ice_ctf = 0.8;
    o->bfactor_min = o->bfactor_max = 0;
  };
  auto tweak_plain = [](MicrographSimOptions* o) {
    o->nx = o->ny = 512;
    o->bfactor_min = o->bfactor_max = 0;
  };
  const Composed ice = Compose(tweak_ice), plain = Compose(tweak_plain);
  EXPECT_EQ(ice.info.ctf.defocus_u, plain.info.ctf.defocus_u);  // same optics, only the noise differs
  CtfEstimateOptions o;
  o.pixel_size = 5;
  o.box = 128;
  o.min_resolution = 40;
  const CtfEstimate e = EstimateCtf(ice.mic, o), e0 = EstimateCtf(plain.mic, o);
  const double truth = 0.5 * (ice.info.ctf.defocus_u + ice.info.ctf.defocus_v);
  EXPECT_NEAR(0.5 * (e.ctf.defocus_u + e.ctf.defocus_v), truth, 0.03 * truth);
  EXPECT_GT(e.figure_of_merit, 2 * e0.figure_of_merit);
}

TEST(Compose, NoiseColourContrastAndBFactor) {
  const Composed base = Compose(nullptr);
  EXPECT_EQ(base.info.objects.size(), 12u);
  EXPECT_NEAR(base.info.measured_snr, 0.05, 1e-9);
  // Coloured noise has relatively more low-frequency power than white noise.
  // The pixel MTF alone takes some high-frequency power away; without either the noise is white.
  const Composed white_noise = Compose([](MicrographSimOptions* o) { o->noise_colour = 0, o->mtf = 0; });
  const Composed mtf_only = Compose([](MicrographSimOptions* o) { o->noise_colour = 0; });
  Image n1 = base.mic, n0 = white_noise.mic, nm = mtf_only.mic;
  for (std::size_t i = 0; i < n1.size(); ++i)
    n1[i] -= base.clean[i], n0[i] -= white_noise.clean[i], nm[i] -= mtf_only.clean[i];
  const auto [lo1, hi1] = LowHighPower(n1);
  const auto [lo0, hi0] = LowHighPower(n0);
  const auto [lom, him] = LowHighPower(nm);
  EXPECT_NEAR(lo0 / hi0, 1.0, 0.15);
  EXPECT_GT(lom / him, 1.3);
  EXPECT_LT(lom / him, 2.5);
  EXPECT_GT(lo1 / hi1, 1.5 * lom / him);
  // Same layout and optics, opposite contrast.
  const Composed white = Compose([](MicrographSimOptions* o) { o->contrast = "white"; });
  for (std::size_t i = 0; i < base.clean.size(); i += 97) ASSERT_FLOAT_EQ(white.clean[i], -base.clean[i]);
  double inside = 0;
  for (const auto& o : white.info.objects) inside += white.clean(int(o.x), int(o.y));
  EXPECT_GT(inside, 0);  // white protein over a positive map
  // The B-factor envelope: same layout and CTF otherwise, so the power spectra differ by
  // exactly exp(-B k^2 / 2) (RELION's amplitude envelope exp(-B k^2 / 4), squared).
  const Composed sharp = Compose([](MicrographSimOptions* o) { o->bfactor_min = o->bfactor_max = 0; });
  const Composed soft = Compose([](MicrographSimOptions* o) { o->bfactor_min = o->bfactor_max = 500; });
  EXPECT_DOUBLE_EQ(soft.info.ctf.bfactor, 500);
  const auto ps = RadialPowerSpectrum(Fft(soft.clean)), p0 = RadialPowerSpectrum(Fft(sharp.clean));
  for (int shell : {10, 25, 50, 80}) {
    const double k = shell / (256 * 5.0);
    EXPECT_NEAR(ps[shell] / p0[shell], std::exp(-500 * k * k / 2), 0.1 * std::exp(-500 * k * k / 2) + 1e-4) << shell;
  }
}

TEST(Compose, DecoysAndHardNegativesAreRecordedApart) {
  MicrographSimOptions opt;
  opt.phantom = "asym";
  opt.phantom_diameter = 150;
  opt.pixel_size = 5;
  opt.nx = opt.ny = 400;
  opt.n = 2;
  opt.ice_blobs = 3;
  opt.aggregates = 3;
  opt.carbon_edge = 1;
  opt.hard_negatives = "rod";
  opt.hard_negative_fraction = 0.3;
  opt.out = TempDir("decoys");
  const MicrographSimResult r = SimulateMicrographs(opt);
  EXPECT_GT(r.hard_negatives, 0);
  EXPECT_GT(r.decoys, 2);  // at least the carbon edges
  const StarFile decoys = ReadStar(opt.out + "/truth/mic_0001_decoys.star");
  const StarTable& t = decoys.blocks.at(0);
  int carbon = 0, hard = 0;
  for (std::size_t i = 0; i < t.num_rows(); ++i) {
    carbon += t.Get(i, "emkitDecoyType") == "carbon_edge";
    hard += t.Get(i, "emkitDecoyType") == "hard_negative";
  }
  EXPECT_EQ(carbon, 1);
  EXPECT_GT(hard, 0);
  const ParticleSet truth = ReadParticles(opt.out + "/truth.star");
  EXPECT_EQ(static_cast<int>(truth.particles.size()), r.targets);
  for (const auto& p : truth.particles) EXPECT_EQ(p.class_number, 1);
}

TEST(SimulateMicrographs, TruthCoordinatesAreTheParticleCentres) {
  // A radially symmetric particle stays point-symmetric about its centre under an
  // (astigmatic) CTF: the centroid of |signal| over its disc is the true centre, x = column,
  // y = row, with sub-pixel precision.
  MicrographSimOptions opt;
  opt.phantom = "gaussian";
  opt.phantom_diameter = 60;
  opt.pixel_size = 2;
  opt.nx = 600;
  opt.ny = 400;
  opt.n = 1;
  opt.particles = 4;
  opt.touching = 0;
  opt.ice_blobs = opt.aggregates = 0;
  opt.carbon_edge = 0;
  opt.hard_negatives = "none";
  opt.defocus_min = opt.defocus_max = 5000;
  opt.write_noiseless = true;
  opt.out = TempDir("centres");
  SimulateMicrographs(opt);
  const Image clean = ReadMrc(opt.out + "/noiseless/mic_0001.mrc");
  const StarTable t = ReadStar(opt.out + "/truth/mic_0001.star").blocks.at(0);
  ASSERT_EQ(t.num_rows(), 4u);
  for (std::size_t i = 0; i < t.num_rows(); ++i) {
    const double x = t.GetDouble(i, "rlnCoordinateX"), y = t.GetDouble(i, "rlnCoordinateY");
    double sw = 0, sx = 0, sy = 0;
    for (int v = int(y) - 20; v <= int(y) + 20; ++v)
      for (int u = int(x) - 20; u <= int(x) + 20; ++u) {
        const double w = std::max(0.0, 20 - std::hypot(u - x, v - y));  // smooth window, no edge bias
        sw += w * std::fabs(clean(u, v)), sx += w * std::fabs(clean(u, v)) * u, sy += w * std::fabs(clean(u, v)) * v;
      }
    EXPECT_NEAR(sx / sw, x, 0.05) << i;  // a 1 px error moves this window centroid by 0.2 px
    EXPECT_NEAR(sy / sw, y, 0.05) << i;
  }
}

TEST(SimulateMicrographs, ThonRingsSitWhereMicrographsStarSaysTheyDo) {
  // The CTF written to micrographs.star is the one in the image: the power spectrum of the
  // noiseless micrograph vanishes at the zeros of that CTF and peaks between them.
  MicrographSimOptions opt;
  opt.phantom = "asym";
  opt.phantom_diameter = 100;
  opt.pixel_size = 2;
  opt.nx = opt.ny = 512;
  opt.n = 1;
  opt.coverage = 0.35;
  opt.hard_negatives = "none";
  opt.ice_blobs = opt.aggregates = 0;
  opt.carbon_edge = 0;
  opt.astigmatism = 0;
  opt.bfactor_min = opt.bfactor_max = 0;
  opt.mtf = 0;
  opt.write_noiseless = true;
  opt.out = TempDir("thon");
  SimulateMicrographs(opt);
  const MicrographSet mics = ReadMicrographs(opt.out + "/micrographs.star");
  ASSERT_EQ(mics.micrographs.size(), 1u);
  const Ctf ctf(mics.micrographs[0].ctf);
  const auto ps = RadialPowerSpectrum(Fft(ReadMrc(opt.out + "/noiseless/mic_0001.mrc")));
  const double dk = 1.0 / (512 * 2.0);
  // Shells where |CTF| is smallest (zeros) and largest (peaks), from shell 15 on.
  int zeros = 0;
  for (int i = 16; i < 240; ++i) {
    const double c = std::fabs(ctf.Value(i * dk, 0)), cl = std::fabs(ctf.Value((i - 1) * dk, 0)),
                 cr = std::fabs(ctf.Value((i + 1) * dk, 0));
    if (!(c < cl && c < cr && c < 0.1)) continue;
    // The neighbouring peaks of |CTF|.
    int left = i, right = i;
    while (left > 2 && std::fabs(ctf.Value((left - 1) * dk, 0)) > std::fabs(ctf.Value(left * dk, 0))) --left;
    while (right < 254 && std::fabs(ctf.Value((right + 1) * dk, 0)) > std::fabs(ctf.Value(right * dk, 0))) ++right;
    if (right - i < 3 || i - left < 3) continue;  // rings too close to resolve in shells
    EXPECT_LT(ps[i], 0.25 * std::min(ps[left], ps[right])) << "zero at shell " << i;
    ++zeros;
  }
  EXPECT_GE(zeros, 3);
}

TEST(SimulateParticles, SeveralMapsGiveClassNumbersAndUniformViews) {
  const std::string dir = TempDir("maps");
  WriteMrc(dir + "/a.mrc", MakePhantom("asym", 48, 5, 200), {5.0, MrcKind::kVolume});
  WriteMrc(dir + "/b.mrc", MakePhantom("rod", 48, 5, 200), {5.0, MrcKind::kVolume});
  ParticleSimOptions opt;
  opt.maps = {dir + "/a.mrc", dir + "/b.mrc"};
  opt.n = 400;
  opt.out = dir + "/out";
  opt.threads = 2;
  const ParticleSimResult r = SimulateParticles(opt);
  EXPECT_EQ(r.box, 48);
  EXPECT_NEAR(r.measured_snr, 0.05, 0.01);
  const ParticleSet set = ReadParticles(r.star);
  int ones = 0;
  double mean_cos_tilt = 0;
  for (const auto& p : set.particles) {
    ones += p.class_number == 1;
    ASSERT_TRUE(p.class_number == 1 || p.class_number == 2);
    mean_cos_tilt += std::cos(p.tilt * M_PI / 180) / set.particles.size();
  }
  EXPECT_GT(ones, 150);
  EXPECT_LT(ones, 250);
  EXPECT_NEAR(mean_cos_tilt, 0, 0.1);  // uniform on the sphere
}

TEST(SimulateOptions, CheckNamesTheBadOption) {
  MicrographSimOptions m;
  m.phantom = "asym";
  m.out = "x";
  m.snr = 0;
  try {
    m.Check();
    FAIL();
  } catch (const InvalidInputError& e) {
    EXPECT_NE(std::string(e.what()).find("--snr"), std::string::npos);
  }
  m.snr = 0.1;
  m.contrast = "grey";
  EXPECT_THROW(m.Check(), InvalidInputError);
  m.contrast = "dark";
  m.maps = {"x.mrc"};
  EXPECT_THROW(m.Check(), InvalidInputError);  // both a map and a phantom
  ParticleSimOptions p;
  p.phantom = "asym";
  p.out = "x";
  p.defocus_min = 30000;
  EXPECT_THROW(p.Check(), InvalidInputError);
}

}  // namespace
}  // namespace emkit
