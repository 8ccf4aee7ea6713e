#include "training/trainer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/files.h"
#include "core/random.h"
#include "io/coordinates.h"
#include "io/micrograph.h"
#include "io/mrc.h"
#include "models/cnn_model.h"
#include "models/cnn_picker.h"
#include "picker/pick.h"

namespace emkit {
namespace {

// Dark blobs (diameter ~20 px) on noise: the micrograph, all centres, and a file with every
// other centre labelled (sparse labels, as users annotate).
struct SyntheticSet {
  std::string dir, mics, coords, full_coords;
};

SyntheticSet MakeSet(const std::string& name, int count, uint64_t seed) {
  SyntheticSet s;
  s.dir = (std::filesystem::path(::testing::TempDir()) / ("emkit_train_" + name)).string();
  std::filesystem::remove_all(s.dir);
  s.mics = JoinPath(s.dir, "mics");
  s.coords = JoinPath(s.dir, "coords");
  s.full_coords = JoinPath(s.dir, "truth");
  for (const auto& d : {s.mics, s.coords, s.full_coords}) CreateDirectories(d);
  for (int m = 0; m < count; ++m) {
    Rng rng(seed, m);
    const int n = 192;
    Image img(n, n);
    std::vector<Coordinate> all;
    for (int tries = 0; tries < 400 && all.size() < 24; ++tries) {
      Coordinate c;
      c.x = rng.Uniform(12, n - 12);
      c.y = rng.Uniform(12, n - 12);
      bool ok = true;
      for (const auto& o : all) ok = ok && std::hypot(o.x - c.x, o.y - c.y) > 24;
      if (ok) all.push_back(c);
    }
    for (int y = 0; y < n; ++y)
      for (int x = 0; x < n; ++x) {
        double v = rng.Normal(0, 0.6);
        for (const auto& c : all) v -= std::exp(-std::pow(std::hypot(x - c.x, y - c.y) / 8.0, 4));
        img(x, y) = static_cast<float>(v);
      }
    std::vector<Coordinate> half;
    for (std::size_t i = 0; i < all.size(); i += 2) half.push_back(all[i]);
    const std::string stem = "mic" + std::to_string(m);
    MrcWriteOptions mo;
    mo.pixel_size = 2.0;
    WriteMrc(JoinPath(s.mics, stem + ".mrc"), img, mo);
    WriteCoordinates(JoinPath(s.coords, stem + ".csv"), half);
    WriteCoordinates(JoinPath(s.full_coords, stem + ".csv"), all);
  }
  return s;
}

TrainOptions SmallOptions(const SyntheticSet& train, const SyntheticSet& valid, const std::string& out) {
  TrainOptions o;
  o.train.micrographs = {train.mics};
  o.train.coordinates = train.coords;
  o.valid_micrographs = {valid.mics};
  o.valid_coordinates = valid.full_coords;
  o.diameter_angstrom = 40;  // 20 px at 2 Å/px
  o.diameter_px_target = 20;
  o.out_dir = out;
  o.architecture = "resnet8";  // the smallest receptive field keeps these tests fast
  o.width = 8;
  o.expected_particles = 24;
  o.patches.patch = 64;
  o.patches.batch = 8;
  o.epochs = 3;
  o.steps_per_epoch = 15;
  o.learning_rate = 3e-3;
  o.threads = 1;
  o.seed = 5;
  return o;
}

std::string Out(const std::string& name) {
  const std::string d = (std::filesystem::path(::testing::TempDir()) / ("emkit_train_out_" + name)).string();
  std::filesystem::remove_all(d);
  return d;
}

TEST(TrainerTest, PuTrainingOnSparseLabelsBeatsChance) {
  auto train = MakeSet("pu_train", 2, 1), valid = MakeSet("pu_valid", 1, 2);
  TrainOptions o = SmallOptions(train, valid, Out("pu"));
  TrainResult r = Train(o);
  ASSERT_EQ(r.history.size(), 3u);
  // Random scores would give AP ~ truth/peaks ~ 0.1 here; labels cover half the particles,
  // validation counts all of them.
  EXPECT_GT(r.best_ap, 0.7);
  EXPECT_GT(r.pi, 0.0);
  EXPECT_TRUE(FileExists(r.model_path));
  EXPECT_TRUE(FileExists(r.curves_path));
  auto report = nlohmann::json::parse(ReadTextFile(r.report_path));
  EXPECT_EQ(report["best_epoch"].get<int>(), r.best_epoch);
  CnnModel m = CnnModel::Load(r.model_path);
  EXPECT_DOUBLE_EQ(m.meta().default_threshold, r.default_threshold);
  EXPECT_DOUBLE_EQ(m.meta().working_pixel_size, 2.0);
  // The default threshold comes from training + validation micrographs; the validation-only one
  // is reported, and is what --threshold-from validation stores (same seed, same training).
  EXPECT_EQ(report["threshold_from"], "all");
  EXPECT_DOUBLE_EQ(report["validation_threshold"].get<double>(), r.validation_threshold);
  o.threshold_from = "validation";
  o.out_dir = Out("pu_valid_threshold");
  TrainResult v = Train(o);
  EXPECT_DOUBLE_EQ(v.default_threshold, r.validation_threshold);
  EXPECT_DOUBLE_EQ(v.validation_threshold, r.validation_threshold);
  EXPECT_DOUBLE_EQ(CnnModel::Load(v.model_path).meta().default_threshold, r.validation_threshold);
}

// PU, and PN with hard negatives mined after each epoch (the default; again from the checkpoint on
// resume).
// The threshold and AP training reports are those of the picks `emkit pick --method cnn` makes from
// the model file alone (LoadCnnPicker, CnnPickOptions, PickMicrograph): one scoring path.
TEST(TrainerTest, ReportedThresholdAndApAreThoseOfEmkitPick) {
  auto train = MakeSet("same_train", 2, 1), valid = MakeSet("same_valid", 1, 2);
  TrainOptions o = SmallOptions(train, valid, Out("same_path"));
  o.threshold_from = "validation";
  o.epochs = 1;  // an imperfect ranking (AP < 1), so the threshold is a real choice
  o.steps_per_epoch = 4;
  const TrainResult r = Train(o);
  ASSERT_GT(r.best_epoch, 0);

  CnnPicker picker = LoadCnnPicker(r.model_path, "cpu", 1);
  PickOptions po = CnnPickOptions(picker, 1);
  EXPECT_DOUBLE_EQ(po.threshold, r.default_threshold);
  std::vector<MicrographInput> inputs = ListMicrographs({JoinPath(valid.mics, "mic0.mrc")}, 0);
  ASSERT_EQ(inputs.size(), 1u);
  MicrographInfo info;  // the pick pipeline takes the pixel size from the header as it reads
  const Image micrograph = ReadMicrograph(inputs[0].path, &info);
  inputs[0].pixel_size = info.pixel_size;
  po.threshold = -std::numeric_limits<double>::infinity();  // the whole ranking
  const PickResult ranked = PickMicrograph(micrograph, inputs[0], picker.mapper.get(), po);
  ASSERT_FALSE(ranked.picks.empty());

  AnnotatedMicrograph m;  // what pick saw, with the validation labels
  m.path = inputs[0].path;
  m.image = ranked.preprocessed.image;
  m.bin_factor = ranked.preprocessed.bin_factor;
  m.pixel_size = ranked.preprocessed.pixel_size;
  m.coords = ReadCoordinates(JoinPath(valid.full_coords, "mic0.csv"));
  const PickMetrics metrics = ScoreCnnValidation({ranked.picks}, {m}, picker.diameter_angstrom);
  EXPECT_NEAR(metrics.best_f1_threshold, r.default_threshold, 1e-5);
  EXPECT_NEAR(metrics.average_precision, r.best_ap, 1e-9);
  const EpochRecord& best = r.history.at(r.best_epoch - 1);
  EXPECT_NEAR(metrics.best_f1, best.f1, 1e-9);

  // At the model's own threshold, emkit pick keeps exactly the picks scoring at least that.
  po.threshold = r.default_threshold;
  const PickResult kept = PickMicrograph(micrograph, inputs[0], picker.mapper.get(), po);
  std::size_t above = 0;
  for (const auto& p : ranked.picks) above += p.fom >= r.default_threshold;
  EXPECT_EQ(kept.picks.size(), above);
  EXPECT_GT(kept.picks.size(), 0u);
}

TEST(TrainerTest, DeterministicForASeedAndResumeContinuesExactly) {
  auto train = MakeSet("det_train", 2, 3), valid = MakeSet("det_valid", 1, 4);
  for (const std::string objective : {"pu", "pn"}) {
    SCOPED_TRACE(objective);
    TrainOptions o = SmallOptions(train, valid, Out("det_a_" + objective));
    o.objective = objective;
    o.epochs = 3;
    o.steps_per_epoch = 3;
    TrainResult a = Train(o);
    // Mining is on by default with PN (0.25 of the patches), off with PU.
    EXPECT_EQ(nlohmann::json::parse(ReadTextFile(a.report_path))["hard_negative_fraction"].get<double>(),
              objective == "pn" ? 0.25 : 0.0);
    o.out_dir = Out("det_b_" + objective);
    TrainResult b = Train(o);
    ASSERT_EQ(a.history.size(), b.history.size());
    for (std::size_t i = 0; i < a.history.size(); ++i) {
      EXPECT_EQ(a.history[i].loss, b.history[i].loss);
      EXPECT_EQ(a.history[i].ap, b.history[i].ap);
    }
    // Stop after two epochs, then resume to three: the same losses as the uninterrupted run.
    o.out_dir = Out("det_c_" + objective);
    o.stop_after_epoch = 2;
    EXPECT_EQ(Train(o).history.size(), 2u);
    o.stop_after_epoch = 0;
    o.resume = true;
    TrainResult c = Train(o);
    ASSERT_EQ(c.history.size(), 3u);
    EXPECT_EQ(c.history[2].loss, a.history[2].loss);
    EXPECT_EQ(c.history[2].ap, a.history[2].ap);
    EXPECT_EQ(c.default_threshold, a.default_threshold);
    // A checkpoint is resumed only with the options that wrote it; the error names what changed.
    o.learning_rate = 1e-3;
    try {
      Train(o);
      FAIL() << "resumed with another learning rate";
    } catch (const InvalidInputError& e) {
      EXPECT_NE(std::string(e.what()).find("learning_rate"), std::string::npos) << e.what();
    }
    // Checked before the weights are read, so a changed network is named too (not "wrong shape").
    o.learning_rate = 3e-3;
    o.width = 16;
    try {
      Train(o);
      FAIL() << "resumed with another width";
    } catch (const InvalidInputError& e) {
      EXPECT_NE(std::string(e.what()).find("width"), std::string::npos) << e.what();
    }
  }
}

// --flip-y uses each micrograph's own height; a shared coordinate file whose names match no
// micrograph is an error, and validation micrographs without labels are refused.
TEST(TrainerTest, FlippedAndSharedCoordinatesAreMatchedPerMicrograph) {
  auto s = MakeSet("flip", 2, 11);
  // Micrograph 1 cropped to 192 x 150, so the two heights differ (and differ from the widths).
  const int heights[2] = {192, 150};
  {
    const std::string path = JoinPath(s.mics, "mic1.mrc");
    const Image full = ReadMicrograph(path);
    Image crop(192, heights[1]);
    for (int y = 0; y < heights[1]; ++y)
      for (int x = 0; x < 192; ++x) crop(x, y) = full(x, y);
    MrcWriteOptions mo;
    mo.pixel_size = 2.0;
    WriteMrc(path, crop, mo);
  }
  std::vector<Coordinate> shared, flipped;
  for (int m = 0; m < 2; ++m) {
    const std::string stem = "mic" + std::to_string(m);
    for (Coordinate c : ReadCoordinates(JoinPath(s.full_coords, stem + ".csv"))) {
      if (c.y > heights[m] - 12) continue;
      c.micrograph = "MotionCorr/" + stem + ".mrc";
      c.x = std::round(c.x), c.y = std::round(c.y);  // Topaz text holds integer pixels
      shared.push_back(c);
      c.y = heights[m] - 1 - c.y;
      flipped.push_back(c);
    }
  }
  const std::string shared_file = JoinPath(s.dir, "all.txt"), flipped_file = JoinPath(s.dir, "all_flipped.txt");
  WriteCoordinates(shared_file, shared);
  WriteCoordinates(flipped_file, flipped);
  DatasetOptions d;
  d.micrographs = {s.mics};
  d.coordinates = shared_file;
  d.preprocess.working_pixel_size = 2;
  auto plain = LoadAnnotatedMicrographs(d);
  d.coordinates = flipped_file;
  d.coordinate_io.flip_y = true;
  auto back = LoadAnnotatedMicrographs(d);
  ASSERT_EQ(plain.size(), 2u);
  for (int m = 0; m < 2; ++m) {
    ASSERT_EQ(plain[m].coords.size(), back[m].coords.size());
    ASSERT_GT(plain[m].coords.size(), 8u);
    for (std::size_t i = 0; i < plain[m].coords.size(); ++i) {
      EXPECT_NEAR(plain[m].coords[i].x, back[m].coords[i].x, 1e-3);
      EXPECT_NEAR(plain[m].coords[i].y, back[m].coords[i].y, 1e-3);
    }
  }
  // Names that match none of the micrographs.
  for (auto& c : shared) c.micrograph = "other_" + c.micrograph.substr(c.micrograph.find('/') + 1);
  WriteCoordinates(shared_file, shared);
  d.coordinates = shared_file;
  d.coordinate_io.flip_y = false;
  try {
    LoadAnnotatedMicrographs(d);
    FAIL() << "no error";
  } catch (const InvalidInputError& e) {
    EXPECT_NE(std::string(e.what()).find("other_mic0"), std::string::npos) << e.what();
  }
  // Validation micrographs whose coordinate files are empty.
  auto valid = MakeSet("flip_valid", 1, 12);
  WriteCoordinates(JoinPath(valid.full_coords, "mic0.csv"), {});
  TrainOptions o = SmallOptions(MakeSet("flip_train", 1, 13), valid, Out("flip"));
  try {
    Train(o);
    FAIL() << "no error";
  } catch (const InvalidInputError& e) {
    EXPECT_NE(std::string(e.what()).find("validation"), std::string::npos) << e.what();
  }
}

TEST(TrainerTest, PreprocessedSetIsCachedAndReused) {
  auto s = MakeSet("cache", 2, 6);
  DatasetOptions d;
  d.micrographs = {s.mics};
  d.coordinates = s.coords;
  d.preprocess.working_pixel_size = 4;
  d.cache_dir = JoinPath(s.dir, "cache");
  bool hit = true;
  auto a = LoadAnnotatedMicrographs(d, &hit);
  EXPECT_FALSE(hit);
  auto b = LoadAnnotatedMicrographs(d, &hit);
  EXPECT_TRUE(hit);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].image.nx(), 96);
  EXPECT_DOUBLE_EQ(b[0].bin_factor, 2.0);
  for (std::size_t i = 0; i < a[1].image.size(); ++i) ASSERT_EQ(a[1].image[i], b[1].image[i]);
  EXPECT_EQ(a[1].coords.size(), b[1].coords.size());
  // Different preprocessing -> a different cache entry.
  d.preprocess.invert = true;
  LoadAnnotatedMicrographs(d, &hit);
  EXPECT_FALSE(hit);
}

TEST(TrainerTest, PatchesHaveLabelsOnParticlesAndAreAugmented) {
  auto s = MakeSet("patches", 1, 7);
  DatasetOptions d;
  d.micrographs = {s.mics};
  d.coordinates = s.full_coords;
  d.preprocess.working_pixel_size = 2;
  auto set = LoadAnnotatedMicrographs(d);
  std::vector<Image> labels = {DiskLabels(set[0].image.nx(), set[0].image.ny(), BinnedCentres(set[0]), 3)};
  EXPECT_EQ(DiskArea(3), 29);
  PatchOptions po;
  po.patch = 48;
  po.batch = 8;
  po.positive_fraction = 0.5;
  CnnBatch b = SampleBatch(set, labels, po, 9, 0);
  CnnBatch again = SampleBatch(set, labels, po, 9, 0);
  EXPECT_EQ(b.images, again.images);
  // Particle-centred patches carry positive labels and are excluded from the penalty.
  const std::size_t plane = 48 * 48;
  double pos_centred = 0, mask_centred = 0;
  for (std::size_t i = 0; i < 4 * plane; ++i) pos_centred += b.labels[i] == 1, mask_centred += b.penalty_mask[i];
  EXPECT_GT(pos_centred, 4 * 20);
  EXPECT_EQ(mask_centred, 0);
  // Labelled pixels sit on dark blobs (the synthetic particles).
  double on = 0, off = 0;
  int non = 0, noff = 0;
  for (std::size_t i = 0; i < b.images.size(); ++i) {
    if (b.labels[i] == 1) on += b.images[i], ++non;
    if (b.labels[i] == 0) off += b.images[i], ++noff;
  }
  EXPECT_LT(on / non, off / noff - 0.5);
}

// Particle-centred patches keep their particle inside the loss region, also when the margin
// (half the receptive field) leaves less than a quarter patch each side: resnet10 with 96 px.
TEST(TrainerTest, CentredPatchesKeepTheirParticleInTheLossRegion) {
  AnnotatedMicrograph m;
  m.image = Image(400, 400);
  m.bin_factor = 1;
  Coordinate c;
  c.x = 200.6, c.y = 199.4;  // the only particle (off the pixel grid: floor vs rounding)
  m.coords = {c};
  std::vector<AnnotatedMicrograph> set = {m};
  std::vector<Image> labels = {DiskLabels(400, 400, BinnedCentres(m), 3)};
  PatchOptions po;
  po.patch = 96;
  po.margin = 32;
  po.batch = 8;
  po.positive_fraction = 1;
  const std::size_t plane = 96 * 96;
  for (uint64_t step = 0; step < 20; ++step) {
    CnnBatch b = SampleBatch(set, labels, po, 4, step);
    for (int p = 0; p < 8; ++p) {
      int centre_inside = 0;
      for (int y = po.margin; y < 96 - po.margin; ++y)
        for (int x = po.margin; x < 96 - po.margin; ++x) centre_inside += b.labels[p * plane + y * 96 + x] == 1;
      EXPECT_GE(centre_inside, 5) << "step " << step << " patch " << p;
    }
  }
}

// Hard-negative patches: the given fraction of the batch, each with its negative inside the
// loss region (so the loss sees it), none without a list.
TEST(TrainerTest, HardNegativePatchesContainTheNegativeInTheirLossRegion) {
  AnnotatedMicrograph m;
  m.image = Image(100, 80);
  m.bin_factor = 1;
  Coordinate c;
  c.x = c.y = 20;
  m.coords = {c};
  const int hx = 70, hy = 50;
  m.image(hx, hy) = 1000;  // marks the negative
  std::vector<AnnotatedMicrograph> set = {m};
  std::vector<Image> labels = {DiskLabels(100, 80, BinnedCentres(m), 3)};
  PatchOptions po;
  po.patch = 32;
  po.margin = 6;
  po.batch = 8;
  po.positive_fraction = 0.25;
  po.hard_negative_fraction = 0.5;
  const std::vector<std::vector<std::pair<double, double>>> negatives = {{{double(hx), double(hy)}}};
  for (uint64_t step = 0; step < 5; ++step) {
    CnnBatch b = SampleBatch(set, labels, po, 3, step, &negatives);
    CnnBatch plain = SampleBatch(set, labels, po, 3, step);
    const std::size_t plane = 32 * 32;
    for (int p = 0; p < 8; ++p) {
      int marked = 0;
      for (int y = po.margin; y < 32 - po.margin; ++y)
        for (int x = po.margin; x < 32 - po.margin; ++x) marked += b.images[p * plane + y * 32 + x] == 1000;
      if (p >= 2 && p < 6) {
        EXPECT_EQ(marked, 1) << "step " << step << " patch " << p;
        EXPECT_EQ(b.penalty_mask[p * plane + 16 * 32 + 16], 1.0f);
      }
    }
    // The particle-centred patches come first and do not depend on the negatives.
    EXPECT_TRUE(std::equal(b.images.begin(), b.images.begin() + 2 * plane, plain.images.begin()));
  }
  po.positive_fraction = 0.8;
  EXPECT_NO_THROW(SampleBatch(set, labels, po, 3, 0, &negatives));  // hard patches capped by the rest
}

TEST(TrainerTest, BadInputsErrorClearly) {
  auto s = MakeSet("bad", 2, 8);
  TrainOptions o = SmallOptions(s, s, Out("bad"));
  // Missing coordinates for one micrograph.
  std::filesystem::remove(JoinPath(s.coords, "mic1.csv"));
  try {
    Train(o);
    FAIL() << "no error";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("mic1.mrc"), std::string::npos) << e.what();
  }
  o.train.coordinates = JoinPath(s.dir, "nowhere");
  EXPECT_THROW(Train(o), IoError);
  // A diameter larger than half the micrograph.
  o = SmallOptions(s, s, Out("bad"));
  o.train.coordinates = s.full_coords;
  o.diameter_angstrom = 300;
  try {
    Train(o);
    FAIL() << "no error";
  } catch (const InvalidInputError& e) {
    EXPECT_NE(std::string(e.what()).find("diameter"), std::string::npos) << e.what();
  }
  o.diameter_angstrom = 0;
  EXPECT_THROW(Train(o), InvalidInputError);
  o.diameter_angstrom = 40;
  o.objective = "magic";
  EXPECT_THROW(Train(o), InvalidInputError);
  // PN-only options with the PU objective, out-of-range fractions and decays.
  o.objective = "pu";
  o.patches.hard_negative_fraction = 0.25;
  EXPECT_THROW(Train(o), InvalidInputError);
  o.patches.hard_negative_fraction = 0;
  o.focal_gamma = 2;
  EXPECT_THROW(Train(o), InvalidInputError);
  o.objective = "pn";
  o.focal_gamma = 0;
  o.patches.hard_negative_fraction = 0.75;  // + positive fraction 0.5 > 1
  EXPECT_THROW(Train(o), InvalidInputError);
  o.patches.hard_negative_fraction = 0;
  o.weight_average = 1;
  EXPECT_THROW(Train(o), InvalidInputError);
  o.weight_average = 0.99;
  o.threshold_from = "test";
  EXPECT_THROW(Train(o), InvalidInputError);
  o.threshold_from = "all";
  o.score_smoothing = -0.1;
  EXPECT_THROW(Train(o), InvalidInputError);
  o.score_smoothing = 0.1;
  o.architecture = "unet";
  o.test_time_augmentation = 4;  // rotations need a ResNet
  EXPECT_THROW(Train(o), InvalidInputError);
  o.test_time_augmentation = 2;
  o.architecture = "resnet8";
  EXPECT_THROW(Train(o), InvalidInputError);
}

}  // namespace
}  // namespace emkit
