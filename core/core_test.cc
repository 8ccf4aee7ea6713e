#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/files.h"
#include "core/filters.h"
#include "core/image.h"
#include "core/parallel.h"
#include "core/random.h"

namespace emkit {

TEST(Random, PhiloxKnownAnswers) {
  // Known-answer vectors of Random123 (kat_vectors, philox4x32 10 rounds).
  auto a = Philox4x32({0, 0, 0, 0}, {0, 0});
  EXPECT_EQ(a[0], 0x6627e8d5u);
  EXPECT_EQ(a[1], 0xe169c58du);
  EXPECT_EQ(a[2], 0xbc57ac4cu);
  EXPECT_EQ(a[3], 0x9b00dbd8u);
  auto b = Philox4x32({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu});
  EXPECT_EQ(b[0], 0x408f276du);
  EXPECT_EQ(b[3], 0x6d5451fdu);
  auto c = Philox4x32({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, {0xa4093822u, 0x299f31d0u});
  EXPECT_EQ(c[0], 0xd16cfe09u);
  EXPECT_EQ(c[1], 0x94fdccebu);
  EXPECT_EQ(c[2], 0x5001e420u);
  EXPECT_EQ(c[3], 0x24126ea1u);
}

TEST(Random, StreamsAreReproducibleAndIndependent) {
  Rng a(42, 7), b(42, 7), c(42, 8), d(43, 7);
  for (int i = 0; i < 100; ++i) {
    const double va = a.Uniform();
    EXPECT_EQ(va, b.Uniform());
    EXPECT_NE(va, c.Uniform());
    EXPECT_NE(va, d.Uniform());
  }
}

TEST(Random, NormalMoments) {
  Rng r(1, 2);
  double s = 0, s2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double v = r.Normal();
    s += v;
    s2 += v * v;
  }
  EXPECT_NEAR(s / n, 0.0, 0.01);
  EXPECT_NEAR(s2 / n, 1.0, 0.01);
}

TEST(Parallel, ResultsIndependentOfThreadCount) {
  std::vector<double> one(1000), four(1000);
  auto job = [](std::vector<double>* out) {
    return [out](std::size_t i, int) {
      Rng r(5, i);
      (*out)[i] = r.Normal();
    };
  };
  ParallelFor(1, one.size(), job(&one));
  ParallelFor(4, four.size(), job(&four));
  EXPECT_EQ(one, four);
}

TEST(Parallel, PoolReusedAndExceptionsPropagate) {
  ThreadPool pool(3);
  for (int round = 0; round < 20; ++round) {
    std::atomic<int> sum{0};
    pool.ParallelFor(100, [&](std::size_t i, int) { sum += static_cast<int>(i); });
    EXPECT_EQ(sum.load(), 4950);
  }
  EXPECT_THROW(pool.ParallelFor(10,
                                [](std::size_t i, int) {
                                  if (i == 3) throw IoError("x");
                                }),
               IoError);
}

TEST(Image, StatsAndSections) {
  Image img(4, 3, 2);
  for (std::size_t i = 0; i < img.size(); ++i) img[i] = static_cast<float>(i);
  Stats s = ComputeStats(img);
  EXPECT_DOUBLE_EQ(s.min, 0);
  EXPECT_DOUBLE_EQ(s.max, 23);
  EXPECT_DOUBLE_EQ(s.mean, 11.5);
  Image sec = img.Section(1);
  EXPECT_EQ(sec.nz(), 1);
  EXPECT_FLOAT_EQ(sec(0, 0), 12.f);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(img.data()) % 64, 0u);
  img[5] = NAN;
  EXPECT_EQ(ComputeStats(img).nan_count, 1u);
}

TEST(Filters, FourierResizePreservesMeanAndSmoothSignal) {
  const int n = 64;
  Image img(n, n);
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) img(x, y) = 3.f + std::cos(2 * M_PI * 2 * x / n) * std::sin(2 * M_PI * 3 * y / n);
  Image small = FourierResize(img, 32, 32);
  EXPECT_NEAR(ComputeStats(small).mean, 3.0, 1e-5);
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 32; ++x)
      EXPECT_NEAR(small(x, y), 3.f + std::cos(2 * M_PI * 2 * x / 32) * std::sin(2 * M_PI * 3 * y / 32), 1e-4);
  Image back = FourierResize(small, n, n);
  for (std::size_t i = 0; i < img.size(); ++i) ASSERT_NEAR(back[i], img[i], 1e-4);
}

TEST(Filters, BandPassRemovesOutOfBandFrequencies) {
  const int n = 64;
  const double pix = 2.0;  // Å
  Image img(n, n);
  // Frequency 4/64 px = 1/32 Å^-1 (32 Å period) and 20/64 (6.4 Å period).
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) img(x, y) = std::cos(2 * M_PI * 4 * x / n) + std::cos(2 * M_PI * 20 * x / n);
  Image lp = BandPassFilter(img, pix, {10.0, 0, 2});
  for (int x = 0; x < n; ++x) EXPECT_NEAR(lp(x, 5), std::cos(2 * M_PI * 4 * x / n), 1e-4);
  Image hp = BandPassFilter(img, pix, {0, 12.0, 2});
  for (int x = 0; x < n; ++x) EXPECT_NEAR(hp(x, 5), std::cos(2 * M_PI * 20 * x / n), 1e-4);
}

TEST(Filters, GaussianBlurOfDeltaIsGaussian) {
  const int n = 64;
  Image img(n, n);
  img(32, 32) = 1;
  Image g = GaussianBlur(img, 2.0);
  const double norm = 1.0 / (2 * M_PI * 4.0);
  EXPECT_NEAR(g(32, 32), norm, 1e-4);
  EXPECT_NEAR(g(34, 32), norm * std::exp(-4.0 / 8.0), 1e-4);
}

TEST(Filters, SoftMaskAndNormalise) {
  EXPECT_DOUBLE_EQ(SoftMaskWeight(3, 5, 2), 1.0);
  EXPECT_DOUBLE_EQ(SoftMaskWeight(6, 5, 2), 0.5);
  EXPECT_DOUBLE_EQ(SoftMaskWeight(8, 5, 2), 0.0);
  Image img(32, 32, 1, 2.f);
  ApplySoftMask(&img, {8, 3, false, 0});
  EXPECT_FLOAT_EQ(img(16, 16), 2.f);
  EXPECT_FLOAT_EQ(img(0, 0), 0.f);
  Image noise(64, 64);
  Rng r(3, 4);
  for (auto& v : noise) v = static_cast<float>(r.Normal(5, 3));
  Normalise(&noise, 20);
  Stats s = ComputeStats(noise);
  EXPECT_NEAR(s.mean, 0, 0.1);
  EXPECT_NEAR(s.stddev, 1, 0.1);
}

TEST(Files, AtomicWriteLeavesNothingOnFailure) {
  const std::string dir = testing::TempDir() + "/emkit_files";
  CreateDirectories(dir);
  const std::string path = dir + "/out.txt";
  std::filesystem::remove(path);
  EXPECT_THROW(WriteAtomically(path,
                               [](const std::string& tmp) {
                                 std::ofstream(tmp) << "half";
                                 throw IoError("disk full");
                               }),
               IoError);
  EXPECT_FALSE(FileExists(path));
  for (auto& e : std::filesystem::directory_iterator(dir)) ADD_FAILURE() << "left behind: " << e.path();
  WriteTextFile(path, "whole");
  EXPECT_EQ(ReadTextFile(path), "whole");
  EXPECT_THROW(ReadTextFile(dir + "/missing.txt"), IoError);
  EXPECT_EQ(Extension("a/b.MRCS"), ".mrcs");
  EXPECT_EQ(StripExtension("a.b/c.mrc"), "a.b/c");
  EXPECT_EQ(StripExtension("a.b/c"), "a.b/c");
}

TEST(Errors, ContextKeepsType) {
  try {
    try {
      throw IoError("x.mrc: truncated");
    } catch (...) {
      RethrowWithContext("reading particles");
    }
  } catch (const IoError& e) {
    EXPECT_STREQ(e.what(), "while reading particles: x.mrc: truncated");
    return;
  }
  FAIL();
}

}  // namespace emkit
