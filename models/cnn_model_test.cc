#include "models/cnn_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "core/random.h"
#include "models/cnn_picker.h"
#include "models/device.h"

namespace emkit {
namespace {

Image RandomImage(int nx, int ny, uint64_t seed) {
  Image img(nx, ny);
  Rng rng(seed, 0);
  for (auto& v : img) v = static_cast<float>(rng.Normal());
  return img;
}

CnnModelMeta Meta(const std::string& arch, int width = 4) {
  CnnModelMeta m;
  m.architecture = arch;
  m.width = width;
  m.working_pixel_size = 4;
  m.diameter_angstrom = 80;
  return m;
}

std::string TempPath(const std::string& name) {
  return (std::filesystem::path(::testing::TempDir()) / ("emkit_cnn_" + name)).string();
}

double MaxAbsDiff(const Image& a, const Image& b) {
  double d = 0;
  for (std::size_t i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(double(a[i]) - b[i]));
  return d;
}

class CnnArchTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { SetTorchThreads(1); }
};

TEST_P(CnnArchTest, OutputHasInputShape) {
  CnnModel m = CnnModel::Create(Meta(GetParam()), 1);
  for (auto [nx, ny] : {std::pair{37, 29}, std::pair{64, 64}, std::pair{1, 1}}) {
    Image out = m.Predict(RandomImage(nx, ny, 3), 0);
    EXPECT_EQ(out.nx(), nx);
    EXPECT_EQ(out.ny(), ny);
    for (float v : out) ASSERT_TRUE(std::isfinite(v));
  }
}

// Changing one input pixel changes outputs only within the receptive field.
TEST_P(CnnArchTest, ReceptiveFieldMatchesImpulseResponse) {
  CnnModel m = CnnModel::Create(Meta(GetParam(), 8), 2);
  const int rf = m.ReceptiveField();
  const int n = 2 * rf + 21, c = n / 2;
  Image a = RandomImage(n, n, 5);
  Image b = a;
  b(c, c) += 25.0f;
  Image da = m.Predict(a, 0), db = m.Predict(b, 0);
  int extent = 0;
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x)
      if (da(x, y) != db(x, y)) extent = std::max({extent, std::abs(x - c), std::abs(y - c)});
  if (GetParam() == "resnet8" || GetParam() == "resnet10") {
    EXPECT_EQ(rf, GetParam() == "resnet8" ? 33 : 65);
    EXPECT_EQ(2 * extent + 1, rf);
  } else {
    EXPECT_LE(2 * extent + 1, rf);
    EXPECT_GE(2 * extent + 1, rf - 8);
  }
}

TEST_P(CnnArchTest, SaveLoadRoundTripGivesIdenticalOutput) {
  CnnModelMeta meta = Meta(GetParam());
  meta.default_threshold = -1.25;
  meta.invert = true;
  CnnModel m = CnnModel::Create(meta, 3);
  // Train a couple of steps so batch-norm statistics are not the defaults.
  m.ConfigureOptimiser(1e-2, 0);
  CnnBatch b{2, 24, 24, {}, {}, {}};
  Image r = RandomImage(24, 48, 9);
  b.images.assign(r.begin(), r.end());
  b.labels.assign(b.images.size(), 0.0f);
  b.labels[24 * 12 + 12] = 1;
  m.TrainStep(b, {}, 2);
  const std::string path = TempPath(GetParam() + "_model.pt");
  m.Save(path);
  CnnModel l = CnnModel::Load(path);
  EXPECT_EQ(l.meta().architecture, GetParam());
  EXPECT_DOUBLE_EQ(l.meta().default_threshold, -1.25);
  EXPECT_TRUE(l.meta().invert);
  Image x = RandomImage(50, 41, 4);
  Image p = m.Predict(x, 0), q = l.Predict(x, 0);
  EXPECT_EQ(MaxAbsDiff(p, q), 0.0);
}

TEST_P(CnnArchTest, TorchScriptExportComputesTheSameMap) {
  CnnModel m = CnnModel::Create(Meta(GetParam()), 4);
  const std::string path = TempPath(GetParam() + "_script.pt");
  m.ExportTorchScript(path);
  Image x = RandomImage(45, 38, 6);
  EXPECT_LT(MaxAbsDiff(m.Predict(x, 0), CnnModel::RunTorchScript(path, x)), 1e-4);
}

TEST_P(CnnArchTest, TiledInferenceEqualsUntiled) {
  CnnModel m = CnnModel::Create(Meta(GetParam()), 5);
  Image x = RandomImage(203, 157, 7);
  Image whole = m.Predict(x, 0);
  for (int tile : {96, 130}) EXPECT_LT(MaxAbsDiff(whole, m.Predict(x, tile)), 1e-4) << "tile " << tile;
}

INSTANTIATE_TEST_SUITE_P(Architectures, CnnArchTest, ::testing::Values("resnet8", "resnet10", "unet"));

// Direct double-precision evaluation of Topaz's GE-binomial objective (science.md §4).
double DirectGeBinomial(const std::vector<float>& z, const std::vector<float>& y, double pi, double slack) {
  double bce = 0;
  int n_pos = 0;
  std::vector<double> p;
  for (std::size_t i = 0; i < z.size(); ++i) {
    if (y[i] == 1) {
      bce += std::log1p(std::exp(-double(z[i])));
      ++n_pos;
    } else if (y[i] == 0) {
      p.push_back(1 / (1 + std::exp(-double(z[i]))));
    }
  }
  const int n = static_cast<int>(p.size());
  double mu = 0, var = 0;
  for (double v : p) mu += v, var += v * (1 - v);
  std::vector<double> q(n + 1);
  double qmax = -1e300, qsum = 0;
  for (int c = 0; c <= n; ++c) qmax = std::max(qmax, q[c] = -0.5 * (mu - c) * (mu - c) / (var + 1e-10));
  for (int c = 0; c <= n; ++c) qsum += q[c] = std::exp(q[c] - qmax);
  double penalty = 0;
  for (int c = 0; c <= n; ++c) {
    const double log_binom = std::lgamma(n + 1.0) - std::lgamma(c + 1.0) - std::lgamma(n - c + 1.0) + c * std::log(pi) +
                             (n - c) * std::log(1 - pi);
    penalty -= q[c] / qsum * log_binom;
  }
  return (bce + slack * penalty) / std::max(1, n_pos);
}

TEST(CnnLossTest, GeBinomialMatchesDirectEvaluation) {
  Rng rng(11, 0);
  for (double pi : {0.02, 0.2}) {
    std::vector<float> z(500), y(500);
    for (std::size_t i = 0; i < z.size(); ++i) {
      z[i] = static_cast<float>(rng.Normal(-2, 1.5));
      const double u = rng.Uniform();
      y[i] = u < 0.05 ? 1.0f : u < 0.1 ? -1.0f : 0.0f;
    }
    CnnLossOptions o;
    o.pi = pi;
    o.slack = 0.7;
    const double expected = DirectGeBinomial(z, y, pi, 0.7);
    EXPECT_NEAR(CnnLoss(z, y, {}, o), expected, 1e-6 * std::fabs(expected));
    // The penalty mask removes unlabelled pixels from the penalty.
    std::vector<float> mask(z.size(), 1.0f), y2 = y;
    for (std::size_t i = 0; i < z.size(); i += 3) mask[i] = 0, y2[i] = (y2[i] == 0 ? -1.0f : y2[i]);
    EXPECT_NEAR(CnnLoss(z, y, mask, o), DirectGeBinomial(z, y2, pi, 0.7), 1e-6 * std::fabs(expected));
  }
}

TEST(CnnLossTest, PnIsWeightedBinaryCrossEntropy) {
  std::vector<float> z = {2.0f, -1.0f, 0.5f, 3.0f}, y = {1, 0, -1, 0};
  CnnLossOptions o;
  o.objective = CnnObjective::kPn;
  o.positive_weight = 2;
  const double expected = (2 * std::log1p(std::exp(-2.0)) + std::log1p(std::exp(-1.0)) + std::log1p(std::exp(3.0))) / 3;
  EXPECT_NEAR(CnnLoss(z, y, {}, o), expected, 1e-6);
}

TEST(CnnLossTest, PnFocalWeighsEachPixelByOneMinusItsProbability) {
  std::vector<float> z = {2.0f, -1.0f, 0.5f, 3.0f}, y = {1, 0, -1, 0};
  CnnLossOptions o;
  o.objective = CnnObjective::kPn;
  o.positive_weight = 2;
  o.focal_gamma = 2;
  auto sig = [](double v) { return 1 / (1 + std::exp(-v)); };
  // Labelled pixels 0, 1, 3: p_t = sig(2), 1 - sig(-1), 1 - sig(3).
  const double expected =
      (2 * std::pow(1 - sig(2), 2) * std::log1p(std::exp(-2.0)) + std::pow(sig(-1), 2) * std::log1p(std::exp(-1.0)) +
       std::pow(sig(3), 2) * std::log1p(std::exp(3.0))) /
      3;
  EXPECT_NEAR(CnnLoss(z, y, {}, o), expected, 1e-6);
  o.focal_gamma = 0;
  EXPECT_NEAR(CnnLoss(z, y, {}, o),
              (2 * std::log1p(std::exp(-2.0)) + std::log1p(std::exp(-1.0)) + std::log1p(std::exp(3.0))) / 3, 1e-6);
}

TEST(CnnModelTest, TrainingIsDeterministicForASeed) {
  auto run = [] {
    SetTorchThreads(1);
    MakeTorchDeterministic(7);
    CnnModel m = CnnModel::Create(Meta("resnet8"), 7);
    m.ConfigureOptimiser(1e-3, 0);
    CnnBatch b{2, 40, 40, {}, {}, {}};
    Image r = RandomImage(40, 80, 8);
    b.images.assign(r.begin(), r.end());
    b.labels.assign(b.images.size(), 0.0f);
    for (int i = 0; i < 5; ++i) b.labels[40 * 20 + 18 + i] = 1;
    std::vector<double> losses;
    for (int s = 0; s < 3; ++s) losses.push_back(m.TrainStep(b, {}, 4));
    return std::pair{losses, m.Predict(RandomImage(30, 30, 1), 0)};
  };
  auto a = run(), b = run();
  EXPECT_EQ(a.first, b.first);
  EXPECT_EQ(MaxAbsDiff(a.second, b.second), 0.0);
  EXPECT_LT(a.first.back(), a.first.front());
}

// Predict folds each batch norm into its convolution; the exported TorchScript applies them as
// batch_norm. After training (non-trivial statistics, scales and shifts) both give one map, for
// each architecture, and training afterwards still uses the unfolded layers.
TEST(CnnModelTest, FoldedBatchNormEqualsTheTrainedNetwork) {
  for (const std::string arch : {"resnet8", "unet"}) {
    SetTorchThreads(1);
    MakeTorchDeterministic(5);
    CnnModel m = CnnModel::Create(Meta(arch), 5);
    m.ConfigureOptimiser(1e-2, 0);
    CnnBatch b{2, 40, 40, {}, {}, {}};
    Image r = RandomImage(40, 80, 8);
    for (float& v : r) v = 3 * v + 1;  // statistics far from (0, 1)
    b.images.assign(r.begin(), r.end());
    b.labels.assign(b.images.size(), 0.0f);
    for (int i = 0; i < 5; ++i) b.labels[40 * 20 + 18 + i] = 1;
    for (int s = 0; s < 5; ++s) m.TrainStep(b, {}, 4);
    const Image x = RandomImage(36, 44, 2);
    const Image p = m.Predict(x, 0);
    const std::string path = TempPath("folded_" + arch + ".pt");
    m.ExportTorchScript(path);
    double rms = 0;
    for (float v : p) rms += double(v) * v;
    rms = std::sqrt(rms / p.size());
    EXPECT_GT(rms, 0.1) << arch;
    EXPECT_LT(MaxAbsDiff(CnnModel::RunTorchScript(path, x), p), 1e-5 * std::max(1.0, rms)) << arch;
    // A training step after Predict trains the batch-norm layers (the loss changes, no error).
    const double before = m.TrainStep(b, {}, 4);
    EXPECT_NE(m.TrainStep(b, {}, 4), before) << arch;
  }
}

// The averaged weights follow a_{t+1} = d_t a_t + (1 - d_t) w_{t+1}, d_t = min(decay, (1+t)/(10+t)),
// from a_0 = the initial weights; swapping twice restores the live weights; a checkpoint
// carries the average so that --resume continues it exactly.
TEST(CnnModelTest, WeightAveragingFollowsItsRecursionAndSurvivesACheckpoint) {
  SetTorchThreads(1);
  MakeTorchDeterministic(3);
  CnnModel m = CnnModel::Create(Meta("resnet8"), 3);
  m.ConfigureOptimiser(1e-2, 0);
  EXPECT_FALSE(m.HasAveragedWeights());
  m.EnableWeightAveraging(0.5);
  ASSERT_TRUE(m.HasAveragedWeights());
  CnnBatch b{2, 40, 40, {}, {}, {}};
  Image r = RandomImage(40, 80, 8);
  b.images.assign(r.begin(), r.end());
  b.labels.assign(b.images.size(), 0.0f);
  for (int i = 0; i < 5; ++i) b.labels[40 * 20 + 18 + i] = 1;
  std::vector<double> expected = [&] {
    auto w = m.ParameterValues();
    return std::vector<double>(w.begin(), w.end());
  }();
  for (int t = 0; t < 4; ++t) {
    m.TrainStep(b, {}, 4);
    const auto w = m.ParameterValues();
    const double d = std::min(0.5, (1.0 + t) / (10.0 + t));
    for (std::size_t i = 0; i < w.size(); ++i) expected[i] = d * expected[i] + (1 - d) * w[i];
    m.SwapAveragedWeights();
    const auto a = m.ParameterValues();
    ASSERT_EQ(a.size(), expected.size());
    double err = 0, moved = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
      err = std::max(err, std::fabs(a[i] - expected[i])), moved = std::max(moved, std::fabs(a[i] - double(w[i])));
    EXPECT_LT(err, 1e-6) << "step " << t;
    EXPECT_GT(moved, 1e-4) << "step " << t;  // the average is not the live weights
    m.SwapAveragedWeights();
    EXPECT_EQ(m.ParameterValues(), w);
  }
  const std::string ckpt = TempPath("ema_checkpoint.pt");
  m.SaveCheckpoint(ckpt, "{}");
  CnnModel n = CnnModel::Create(Meta("resnet8"), 99);
  n.ConfigureOptimiser(1e-2, 0);
  n.EnableWeightAveraging(0.5);
  n.LoadCheckpoint(ckpt);
  EXPECT_EQ(n.ParameterValues(), m.ParameterValues());
  m.TrainStep(b, {}, 4);
  n.TrainStep(b, {}, 4);
  m.SwapAveragedWeights();
  n.SwapAveragedWeights();
  EXPECT_EQ(n.ParameterValues(), m.ParameterValues());
  // A checkpoint without an average cannot continue one.
  CnnModel plain = CnnModel::Create(Meta("resnet8"), 5);
  plain.ConfigureOptimiser(1e-2, 0);
  plain.SaveCheckpoint(ckpt, "{}");
  EXPECT_THROW(n.LoadCheckpoint(ckpt), IoError);
  EXPECT_THROW(n.EnableWeightAveraging(1.0), InvalidInputError);
  std::filesystem::remove(ckpt);
}

// Rotated / flipped copies of an image (x fastest): quarter turn counter-clockwise in array
// coordinates, and mirror in x.
Image Rot90(const Image& a) {
  Image r(a.ny(), a.nx());
  for (int y = 0; y < a.ny(); ++y)
    for (int x = 0; x < a.nx(); ++x) r(y, a.nx() - 1 - x) = a(x, y);
  return r;
}
Image FlipX(const Image& a) {
  Image r(a.nx(), a.ny());
  for (int y = 0; y < a.ny(); ++y)
    for (int x = 0; x < a.nx(); ++x) r(a.nx() - 1 - x, y) = a(x, y);
  return r;
}

TEST(CnnModelTest, TestTimeAugmentationMakesTheMapEquivariant) {
  SetTorchThreads(1);
  CnnModelMeta meta = Meta("resnet8", 6);
  CnnModel plain = CnnModel::Create(meta, 11);
  meta.test_time_augmentation = 8;
  CnnModel tta = CnnModel::Create(meta, 11);  // same seed: same weights
  Image x = RandomImage(61, 47, 12);
  const Image p = tta.Predict(x, 0);
  // Without augmentation the network is not equivariant; with all 8 transforms it is.
  EXPECT_GT(MaxAbsDiff(plain.Predict(Rot90(x), 0), Rot90(plain.Predict(x, 0))), 1e-3);
  EXPECT_LT(MaxAbsDiff(tta.Predict(Rot90(x), 0), Rot90(p)), 1e-4);
  EXPECT_LT(MaxAbsDiff(tta.Predict(FlipX(x), 0), FlipX(p)), 1e-4);
  // The mean over transforms differs from the plain map, tiles do not change it, and the
  // TorchScript export computes it too.
  EXPECT_GT(MaxAbsDiff(plain.Predict(x, 0), p), 1e-3);
  EXPECT_LT(MaxAbsDiff(tta.Predict(x, 70), p), 1e-4);
  const std::string path = TempPath("tta_script.pt");
  tta.ExportTorchScript(path);
  EXPECT_LT(MaxAbsDiff(CnnModel::RunTorchScript(path, x), p), 1e-4);
  // Stored in the model file.
  const std::string model_path = TempPath("tta_model.pt");
  tta.Save(model_path);
  EXPECT_EQ(CnnModel::Load(model_path).meta().test_time_augmentation, 8);
}

// Direct sum: Gaussian of sigma truncated at ceil(3 sigma), normalised, edges mirrored about the
// edge pixel (numpy's 'reflect'), separable.
Image GaussianMirrored(const Image& a, double sigma) {
  const int r = static_cast<int>(std::ceil(3 * sigma));
  std::vector<double> k(2 * r + 1);
  double sum = 0;
  for (int i = -r; i <= r; ++i) sum += k[i + r] = std::exp(-0.5 * i * i / (sigma * sigma));
  auto mirror = [](int i, int n) { return i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i; };
  Image t(a.nx(), a.ny()), out(a.nx(), a.ny());
  for (int y = 0; y < a.ny(); ++y)
    for (int x = 0; x < a.nx(); ++x) {
      double v = 0;
      for (int i = -r; i <= r; ++i) v += k[i + r] * a(mirror(x + i, a.nx()), y);
      t(x, y) = static_cast<float>(v / sum);
    }
  for (int y = 0; y < a.ny(); ++y)
    for (int x = 0; x < a.nx(); ++x) {
      double v = 0;
      for (int i = -r; i <= r; ++i) v += k[i + r] * t(x, mirror(y + i, a.ny()));
      out(x, y) = static_cast<float>(v / sum);
    }
  return out;
}

TEST(CnnModelTest, ScoreSmoothingIsAMirroredGaussianAfterStitching) {
  SetTorchThreads(1);
  CnnModelMeta meta = Meta("resnet8", 6);
  CnnModel plain = CnnModel::Create(meta, 11);
  meta.score_smoothing_px = 1.5;
  meta.test_time_augmentation = 4;
  CnnModel smooth = CnnModel::Create(meta, 11);  // same seed: same weights
  Image x = RandomImage(61, 47, 12);
  plain.mutable_meta().test_time_augmentation = 4;
  const Image expected = GaussianMirrored(plain.Predict(x, 0), 1.5);
  const Image p = smooth.Predict(x, 0);
  EXPECT_LT(MaxAbsDiff(p, expected), 1e-4);
  EXPECT_GT(MaxAbsDiff(p, plain.Predict(x, 0)), 1e-3);
  // Tiles are smoothed after stitching (no seams), the export smooths too, and the file keeps it.
  EXPECT_LT(MaxAbsDiff(smooth.Predict(x, 70), p), 1e-4);
  const std::string path = TempPath("smooth_script.pt");
  smooth.ExportTorchScript(path);
  EXPECT_LT(MaxAbsDiff(CnnModel::RunTorchScript(path, x), p), 1e-4);
  const std::string model_path = TempPath("smooth_model.pt");
  smooth.Save(model_path);
  EXPECT_DOUBLE_EQ(CnnModel::Load(model_path).meta().score_smoothing_px, 1.5);
  // A map smaller than the kernel is replicated at the edges rather than refused.
  EXPECT_EQ(smooth.Predict(RandomImage(3, 4, 2), 0).nx(), 3);
}

TEST(CnnModelTest, BadInputsErrorClearly) {
  EXPECT_THROW(CnnModel::Load(TempPath("missing.pt")), IoError);
  const std::string junk = TempPath("junk.pt");
  {
    FILE* f = std::fopen(junk.c_str(), "w");
    std::fputs("not a model", f);
    std::fclose(f);
  }
  try {
    CnnModel::Load(junk);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(junk), std::string::npos) << e.what();
  }
  // A model that does not say how to bin cannot pick.
  CnnModelMeta unbinned = Meta("resnet8");
  unbinned.working_pixel_size = 0;
  const std::string unbinned_path = TempPath("unbinned.pt");
  CnnModel::Create(unbinned, 1).Save(unbinned_path);
  try {
    LoadCnnPicker(unbinned_path, "cpu", 1);
    FAIL() << "no error";
  } catch (const InvalidInputError& e) {
    EXPECT_NE(std::string(e.what()).find("working_pixel_size"), std::string::npos) << e.what();
  }
  CnnModelMeta bad = Meta("vgg");
  EXPECT_THROW(CnnModel::Create(bad, 1), InvalidInputError);
  CnnModelMeta tta = Meta("resnet8");
  tta.test_time_augmentation = 3;
  EXPECT_THROW(CnnModel::Create(tta, 1), InvalidInputError);
  tta.test_time_augmentation = 1;
  tta.score_smoothing_px = -1;
  EXPECT_THROW(CnnModel::Create(tta, 1), InvalidInputError);
  tta = Meta("unet");
  tta.test_time_augmentation = 4;
  EXPECT_THROW(CnnModel::Create(tta, 1), InvalidInputError);
  EXPECT_THROW(ParseDevice("gpu"), InvalidInputError);
  for (const char* bad : {"cuda:", "cuda:1x", "cuda:-1", "cudax"}) {
    try {
      ParseDevice(bad);
      FAIL() << bad;
    } catch (const InvalidInputError& e) {
      // The device number is checked before (and whether or not) CUDA is there.
      if (std::string(bad) != "cudax") {
        EXPECT_NE(std::string(e.what()).find("bad device number"), std::string::npos) << e.what();
      }
    }
  }
  EXPECT_EQ(ParseDevice("cpu").cuda, false);
}

}  // namespace
}  // namespace emkit
