#include "training/trainer.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "core/random.h"
#include "io/micrograph.h"
#include "models/cnn_model.h"
#include "models/cnn_picker.h"
#include "models/device.h"
#include "picker/evaluate.h"
#include "picker/peaks.h"
#include "picker/pick.h"

namespace emkit {
namespace {

constexpr double kPi = 3.14159265358979323846;

struct Validation {
  double ap = 0, f1 = 0, precision = 0, recall = 0, threshold = 0;
};

// The model's peaks on an annotated micrograph as `emkit pick --method cnn` finds them: the same
// picker (models/cnn_picker.h), pick options (CnnPickOptions: minimum distance, border) and peak
// finder (ScoreAndFindPeaks), with no threshold, and without the border when `border` is false.
// Best first, in binned pixels; max_peaks 0 = all.
std::vector<Coordinate> PickPeaks(CnnModel& model, const AnnotatedMicrograph& m, int max_peaks, bool border,
                                  int threads) {
  // The picker shares the trainer's model without owning it.
  const CnnPicker picker = MakeCnnPicker(std::shared_ptr<CnnModel>(&model, [](CnnModel*) {}), threads);
  PickOptions po = CnnPickOptions(picker, threads);
  po.threshold = -std::numeric_limits<double>::infinity();
  po.max_picks = max_peaks;
  if (!border) po.border = 0;
  PickResult r;
  r.preprocessed.image = m.image;
  r.preprocessed.pixel_size = m.pixel_size;
  r.preprocessed.bin_factor = m.bin_factor;
  MicrographInput input;
  input.path = input.name = m.path;
  input.pixel_size = m.pixel_size / m.bin_factor;
  ScoreAndFindPeaks(&r, input, picker.mapper.get(), po);
  for (auto& p : r.picks) p.x = r.preprocessed.ToBinned(p.x), p.y = r.preprocessed.ToBinned(p.y);
  return r.picks;
}

}  // namespace

PickMetrics ScoreCnnValidation(const std::vector<std::vector<Coordinate>>& picks,
                               const std::vector<AnnotatedMicrograph>& set, double diameter_angstrom) {
  EMKIT_CHECK(picks.size() == set.size(), "one pick list per micrograph");
  std::vector<std::vector<Coordinate>> binned(set.size()), truth(set.size());
  double radius = 0;
  for (std::size_t i = 0; i < set.size(); ++i) {
    const auto& m = set[i];
    const double d = diameter_angstrom / m.pixel_size;
    radius += 0.5 * d / set.size();
    // As emkit pick's default border (CnnPickOptions), labels within a radius of the edge are left
    // out: edge peaks would otherwise raise the threshold (SNR 0.05 set: 0.38 instead of -0.15).
    const int border = static_cast<int>(std::ceil(0.5 * d));
    const double hi_x = m.image.nx() - border, hi_y = m.image.ny() - border;
    for (Coordinate c : picks[i]) {
      c.x /= m.bin_factor, c.y /= m.bin_factor;
      binned[i].push_back(c);
    }
    for (Coordinate c : m.coords) {
      c.x /= m.bin_factor, c.y /= m.bin_factor;
      if (c.x >= border && c.y >= border && c.x < hi_x && c.y < hi_y) truth[i].push_back(c);
    }
  }
  // Binned pixels, where one matching radius fits every micrograph (their bin factors differ when
  // their pixel sizes do).
  return EvaluatePicks(binned, truth, radius, 0.0);
}

namespace {

// Picks every validation micrograph as emkit pick does (PickPeaks) and scores the ranking against
// the labels (ScoreCnnValidation); the F1-optimal threshold becomes the model's default.
Validation Validate(CnnModel& model, const std::vector<AnnotatedMicrograph>& set, int max_peaks, int threads) {
  std::vector<std::vector<Coordinate>> picks(set.size());
  for (std::size_t i = 0; i < set.size(); ++i) {
    picks[i] = PickPeaks(model, set[i], max_peaks, true, threads);
    for (auto& p : picks[i]) p.x *= set[i].bin_factor, p.y *= set[i].bin_factor;  // original px, as pick writes
  }
  PickMetrics m = ScoreCnnValidation(picks, set, model.meta().diameter_angstrom);
  Validation v;
  v.ap = m.average_precision;
  v.threshold = m.best_f1_threshold;
  v.f1 = m.best_f1;
  for (const auto& p : m.curve)
    if (p.threshold == m.best_f1_threshold) v.precision = p.precision, v.recall = p.recall;
  return v;
}

// Hard negatives for PN training (complete labels): on every training micrograph, the model's
// best-scoring peaks farther than half a diameter from every label, at most half as many as
// the micrograph has labels (at least 4). Binned coordinates.
std::vector<std::vector<std::pair<double, double>>> MineHardNegatives(CnnModel& model,
                                                                      const std::vector<AnnotatedMicrograph>& set,
                                                                      double diameter_binned, int threads) {
  std::vector<std::vector<std::pair<double, double>>> out(set.size());
  const double r2 = 0.25 * diameter_binned * diameter_binned;
  for (std::size_t i = 0; i < set.size(); ++i) {
    const auto centres = BinnedCentres(set[i]);
    const std::size_t keep = std::max<std::size_t>(4, centres.size() / 2);
    const int candidates = static_cast<int>(keep + 2 * centres.size() + 8);
    for (const auto& p : PickPeaks(model, set[i], candidates, false, threads)) {
      const bool near = std::any_of(centres.begin(), centres.end(), [&](const auto& c) {
        return (p.x - c.first) * (p.x - c.first) + (p.y - c.second) * (p.y - c.second) < r2;
      });
      if (!near) out[i].emplace_back(p.x, p.y);
      if (out[i].size() >= keep) break;
    }
  }
  return out;
}

nlohmann::json HistoryJson(const std::vector<EpochRecord>& h) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& e : h)
    a.push_back({{"epoch", e.epoch},
                 {"loss", e.loss},
                 {"learning_rate", e.learning_rate},
                 {"val_ap", e.ap},
                 {"val_best_f1", e.f1},
                 {"val_precision", e.precision},
                 {"val_recall", e.recall},
                 {"val_threshold", e.threshold},
                 {"seconds", e.seconds}});
  return a;
}

std::vector<EpochRecord> HistoryFromJson(const nlohmann::json& a) {
  std::vector<EpochRecord> h;
  for (const auto& j : a) {
    EpochRecord e;
    e.epoch = j.at("epoch");
    e.loss = j.at("loss");
    e.learning_rate = j.at("learning_rate");
    e.ap = j.at("val_ap");
    e.f1 = j.at("val_best_f1");
    e.precision = j.at("val_precision");
    e.recall = j.at("val_recall");
    e.threshold = j.at("val_threshold");
    e.seconds = j.at("seconds");
    h.push_back(e);
  }
  return h;
}

// Validation micrographs: a given set, else a seeded fraction of the training set, else the
// training set itself (with a warning).
// Returns false when the validation set is the training set.
bool SplitValidation(const TrainOptions& opt, std::vector<AnnotatedMicrograph>* train,
                     std::vector<AnnotatedMicrograph>* valid) {
  if (!opt.valid_micrographs.empty()) {
    DatasetOptions v = opt.train;
    v.micrographs = opt.valid_micrographs;
    v.other_micrographs = ExpandMicrographPaths(opt.train.micrographs);
    v.coordinates = opt.valid_coordinates.empty() ? opt.train.coordinates : opt.valid_coordinates;
    *valid = LoadAnnotatedMicrographs(v);
    return true;
  }
  const int n = static_cast<int>(train->size());
  const int nv = static_cast<int>(std::ceil(opt.valid_fraction * n));
  if (opt.valid_fraction <= 0 || n < 2 || nv >= n) {
    LOG_WARN("no separate validation micrographs: validating on the training set");
    *valid = *train;
    return false;
  }
  std::vector<int> order(n);
  for (int i = 0; i < n; ++i) order[i] = i;
  Rng rng(opt.seed, StreamId("cnn-valid-split", 0));
  for (int i = n - 1; i > 0; --i) std::swap(order[i], order[rng.UniformInt(0, i)]);
  std::vector<AnnotatedMicrograph> t;
  for (int i = 0; i < n; ++i) (i < nv ? *valid : t).push_back(std::move((*train)[order[i]]));
  *train = std::move(t);
  return true;
}

// What defines a training run: --resume refuses a checkpoint written with anything else
// (threads, device and the threshold rule may change). Paths absolute, so "coords/" and
// "./coords" are the same.
nlohmann::json RunSetup(const TrainOptions& opt, const std::vector<std::string>& mics, const CnnModelMeta& meta,
                        const CnnLossOptions& loss, const PatchOptions& po) {
  auto absolute = [](const std::string& p) {
    if (p.empty()) return p;
    std::string a = std::filesystem::absolute(p).lexically_normal().string();
    while (a.size() > 1 && a.back() == '/') a.pop_back();
    return a;
  };
  std::vector<std::string> train_mics, valid_mics;
  for (const auto& m : mics) train_mics.push_back(absolute(m));
  for (const auto& m : opt.valid_micrographs) valid_mics.push_back(absolute(m));
  nlohmann::json setup = nlohmann::json::parse(meta.ToJson());
  setup.erase("default_threshold");
  setup.erase("training");
  setup.update({{"micrographs", train_mics},
                {"coordinates", absolute(opt.train.coordinates)},
                {"flip_y", opt.train.coordinate_io.flip_y},
                {"pixel_size", opt.train.pixel_size},
                {"valid_micrographs", valid_mics},
                {"valid_coordinates", absolute(opt.valid_coordinates)},
                {"valid_fraction", opt.valid_fraction},
                {"objective", opt.objective},
                {"pi", loss.pi},
                {"slack", loss.slack},
                {"focal_gamma", loss.focal_gamma},
                {"positive_weight", loss.positive_weight},
                {"seed", opt.seed},
                {"epochs", opt.epochs},
                {"steps_per_epoch", opt.steps_per_epoch},
                {"learning_rate", opt.learning_rate},
                {"weight_decay", opt.weight_decay},
                {"weight_average", opt.weight_average},
                {"patch", po.patch},
                {"batch_size", po.batch},
                {"positive_fraction", po.positive_fraction},
                {"hard_negative_fraction", po.hard_negative_fraction},
                {"label_radius", po.label_radius},
                {"augment", po.augment}});
  return setup;
}

// Throws naming every setting of `now` that differs from the checkpoint's.
void CheckSameSetup(const nlohmann::json& saved, const nlohmann::json& now, const std::string& checkpoint) {
  std::string changed;
  for (const auto& [key, value] : now.items())
    if (!saved.contains(key) || saved[key] != value)
      changed += (changed.empty() ? "" : ", ") + key + " (" +
                 (saved.contains(key) ? saved[key].dump() : std::string("absent")) + " -> " + value.dump() + ")";
  if (!changed.empty())
    throw InvalidInputError("--resume: " + checkpoint + " was written by a run with other settings: " + changed +
                            "; resume with the same options or use another --out");
}

}  // namespace

void TrainOptions::Check() const {
  auto bad = [](const std::string& what) { throw InvalidInputError(what); };
  if (out_dir.empty()) bad("--out: an output folder is required");
  if ((diameter_angstrom > 0) == (diameter_px > 0)) bad("give exactly one of --diameter (Å) and --diameter-px (> 0)");
  if (diameter_angstrom < 0 || diameter_px < 0) bad("--diameter must be > 0");
  if (!(diameter_px_target >= 4 && diameter_px_target <= 128)) bad("--binned-diameter must be in [4, 128] px");
  if (!(local_normalise_diameters >= 0)) bad("--local-norm must be >= 0");
  if (objective != "pu" && objective != "pn") bad("--objective '" + objective + "': expected pu or pn");
  if (!(focal_gamma >= 0)) bad("--focal must be >= 0");
  if (focal_gamma > 0 && objective != "pn") bad("--focal applies to --objective pn only");
  if (valid_fraction < 0 || valid_fraction >= 1) bad("--valid-fraction must be in [0, 1)");
  if (expected_particles < 0) bad("--expected-particles must be >= 0");
  if (epochs < 1) bad("--epochs must be >= 1");
  if (steps_per_epoch < 1) bad("--steps-per-epoch must be >= 1");
  if (!(learning_rate > 0)) bad("--lr must be > 0");
  if (!(weight_decay >= 0)) bad("--weight-decay must be >= 0");
  if (!(slack > 0)) bad("--slack must be > 0");
  if (!(weight_average >= 0 && weight_average < 1)) bad("--weight-average must be in [0, 1)");
  if (patches.batch < 1) bad("--batch-size must be >= 1");
  if (patches.patch < 0) bad("--patch must be >= 0 (0 = automatic)");
  if (patches.positive_fraction < 0 || patches.positive_fraction > 1) bad("--positive-fraction must be in [0, 1]");
  if (patches.hard_negative_fraction != -1 &&
      (patches.hard_negative_fraction < 0 || patches.positive_fraction + patches.hard_negative_fraction > 1))
    bad("--hard-negative-fraction must be -1 (automatic) or in [0, 1 - positive fraction]");
  if (patches.hard_negative_fraction > 0 && objective != "pn")
    bad("--hard-negative-fraction applies to --objective pn only (an unlabelled peak may be a particle)");
  if (!(patches.label_radius > 0)) bad("--label-radius must be > 0");
  if (!(score_smoothing >= 0 && score_smoothing <= 1)) bad("--score-smoothing must be in [0, 1] diameters");
  if (threshold_from != "all" && threshold_from != "validation")
    bad("--threshold-from '" + threshold_from + "': expected all or validation");
  if (threads < 1) bad("--threads must be >= 1");
  if (test_time_augmentation != 0 && test_time_augmentation != 1 && test_time_augmentation != 4 &&
      test_time_augmentation != 8)
    bad("--tta must be 0 (automatic), 1, 4 or 8");
  if (test_time_augmentation > 1 && architecture == "unet")
    bad("--tta " + std::to_string(test_time_augmentation) +
        " needs a ResNet (the U-Net's pooling grid is not rotation-symmetric): use --tta 1");
}

TrainResult Train(const TrainOptions& opt_in) {
  opt_in.Check();
  TrainOptions opt = opt_in;
  const double t0 = NowSeconds();
  KeepLargeAllocationsInHeap();
  SetTorchThreads(opt.threads);
  const DeviceSpec device = ParseDevice(opt.device);
  MakeTorchDeterministic(opt.seed);
  CreateDirectories(opt.out_dir);

  // Diameter in Å and the working pixel size that bins it to the target.
  const auto mics = ExpandMicrographPaths(opt.train.micrographs);
  const double pixel_size = MicrographPixelSize(mics.front(), opt.train.pixel_size);
  const double diameter = opt.diameter_angstrom > 0 ? opt.diameter_angstrom : opt.diameter_px * pixel_size;
  {
    MicrographInfo info;
    const Image first = ReadMicrograph(mics.front(), &info);
    const double d_px = diameter / pixel_size;
    if (d_px < 4 || d_px > 0.5 * std::min(first.nx(), first.ny()))
      throw InvalidInputError("particle diameter " + std::to_string(diameter) + " Å = " + std::to_string(d_px) +
                              " px does not fit micrograph " + mics.front() + " (" + std::to_string(first.nx()) + "x" +
                              std::to_string(first.ny()) + " px): expected 4 px to half the micrograph");
  }
  // opt.train.pixel_size stays as given (0 = each micrograph's own header): the working pixel size
  // is in Å, so micrographs of different sampling bin to the same one.
  opt.train.preprocess.particle_diameter = diameter;
  opt.train.preprocess.working_pixel_size = std::max(pixel_size, diameter / opt.diameter_px_target);
  opt.train.preprocess.local_normalise_angstrom = opt.local_normalise_diameters * diameter;
  opt.train.preprocess.threads = opt.threads;
  if (opt.train.cache_dir.empty()) opt.train.cache_dir = JoinPath(opt.out_dir, "cache");

  TrainResult result;
  // A coordinate file shared by the training and validation micrographs names both sets.
  if (!opt.valid_micrographs.empty()) opt.train.other_micrographs = ExpandMicrographPaths(opt.valid_micrographs);
  auto train = LoadAnnotatedMicrographs(opt.train, &result.cache_hit);
  std::vector<AnnotatedMicrograph> valid;
  const bool separate_validation = SplitValidation(opt, &train, &valid);
  std::size_t n_labels = 0;
  double area = 0;
  for (const auto& m : train) n_labels += m.coords.size(), area += double(m.image.nx()) * m.image.ny();
  if (n_labels == 0) throw InvalidInputError("training set: no particle coordinates in " + opt.train.coordinates);
  if (separate_validation) {
    std::size_t n_valid_labels = 0;
    for (const auto& m : valid) n_valid_labels += m.coords.size();
    // Validation AP would be 0 every epoch and the first epoch's model kept for good.
    if (n_valid_labels == 0)
      throw InvalidInputError("validation micrographs carry no particle coordinates (" +
                              (opt.valid_coordinates.empty() ? opt.train.coordinates : opt.valid_coordinates) +
                              "): give --valid-coords, or other --valid-micrographs / --seed for the split");
  }

  // Model and its metadata.
  CnnModelMeta meta;
  meta.architecture = opt.architecture;
  meta.width = opt.width;
  meta.working_pixel_size = opt.train.preprocess.working_pixel_size;
  meta.diameter_angstrom = diameter;
  meta.highpass_angstrom = opt.train.preprocess.highpass_angstrom;
  meta.robust_normalise = opt.train.preprocess.robust_normalise;
  meta.local_normalise_angstrom = opt.train.preprocess.local_normalise_angstrom;
  meta.invert = opt.train.preprocess.invert;
  meta.channels_last = opt.channels_last;
  if (opt.test_time_augmentation == 0) opt.test_time_augmentation = opt.architecture == "unet" ? 1 : 4;
  meta.test_time_augmentation = opt.test_time_augmentation;
  meta.score_smoothing_px = opt.score_smoothing * meta.DiameterBinnedPx();
  CnnModel model = CnnModel::Create(meta, opt.seed);
  model.SetDevice(device);
  model.ConfigureOptimiser(opt.learning_rate, opt.weight_decay);
  model.EnableWeightAveraging(opt.weight_average);
  const int rf = model.ReceptiveField();
  const double d_binned = meta.DiameterBinnedPx();
  if (rf < d_binned)
    LOG_WARN("receptive field " << rf << " px is smaller than the binned particle (" << d_binned
                                << " px): lower --binned-diameter");

  // Objective. π = expected positive fraction among unlabelled pixels of uniform patches.
  CnnLossOptions loss;
  loss.objective = opt.objective == "pn" ? CnnObjective::kPn : CnnObjective::kGeBinomial;
  loss.slack = opt.slack;
  loss.focal_gamma = opt.focal_gamma;
  const double labelled = double(n_labels) / train.size();
  const double expected = opt.expected_particles > 0 ? opt.expected_particles : 1.5 * labelled;
  const double disk = DiskArea(opt.patches.label_radius);
  const double mean_area = area / train.size();
  loss.pi = std::clamp((expected - labelled) * disk / (mean_area - labelled * disk), 1e-4, 0.5);
  if (loss.objective == CnnObjective::kPn) {
    const double pos_frac = std::min(0.5, n_labels * disk / area);
    loss.positive_weight = std::max(1.0, 0.1 / pos_frac);
  }
  result.pi = loss.pi;
  std::vector<Image> labels;
  for (const auto& m : train)
    labels.push_back(DiskLabels(m.image.nx(), m.image.ny(), BinnedCentres(m), opt.patches.label_radius));
  PatchOptions po = opt.patches;
  if (po.hard_negative_fraction < 0)
    po.hard_negative_fraction = loss.objective == CnnObjective::kPn ? std::min(0.25, 1 - po.positive_fraction) : 0.0;
  po.margin = rf / 2;
  // The loss sees the patch minus a margin of half the receptive field on each side; by default
  // that leaves 64 x 64 pixels (resnet8: 96 px patches, resnet10: 128 px).
  if (po.patch <= 0) po.patch = 2 * po.margin + 64;
  if (po.patch < 2 * po.margin + 16) po.patch = 2 * po.margin + 16;
  // Patches are cut from the binned micrographs: a larger one cannot be, and would allocate
  // batch x patch² floats per layer (--patch 4000: tens of GB) before failing.
  // (The automatic size may exceed a small micrograph: the sampler mirrors it.)
  for (const auto& m : train)
    if (opt.patches.patch > 0 && (po.patch > m.image.nx() || po.patch > m.image.ny()))
      throw InvalidInputError(m.path + ": --patch " + std::to_string(po.patch) +
                              " px is larger than this micrograph after binning (" + std::to_string(m.image.nx()) +
                              " x " + std::to_string(m.image.ny()) + " px at " +
                              std::to_string(meta.working_pixel_size) + " Å/px); give a smaller --patch");
  LOG_INFO(
      "training " << opt.architecture << " (" << model.NumParameters() << " parameters, receptive field " << rf
                  << " px) on " << train.size() << " micrographs (" << n_labels << " labels), validating on "
                  << valid.size() << "; binned " << meta.working_pixel_size << " Å/px, particle " << d_binned << " px; "
                  << opt.objective
                  << (loss.objective == CnnObjective::kGeBinomial ? " pi=" + std::to_string(loss.pi) : std::string()));

  const nlohmann::json setup = RunSetup(opt, mics, meta, loss, po);

  // Resume.
  const std::string checkpoint = JoinPath(opt.out_dir, "checkpoint.pt");
  result.model_path = JoinPath(opt.out_dir, "model.pt");
  int first_epoch = 1;
  if (opt.resume && FileExists(checkpoint)) {
    // Settings first: a changed architecture or averaging would otherwise fail the load itself.
    auto state = nlohmann::json::parse(CnnModel::ReadCheckpointState(checkpoint));
    if (state.contains("setup"))
      CheckSameSetup(state["setup"], setup, checkpoint);
    else
      LOG_WARN("--resume: " << checkpoint << " predates setup checks; assuming the same options");
    model.LoadCheckpoint(checkpoint);
    first_epoch = state.at("epoch").get<int>() + 1;
    result.history = HistoryFromJson(state.at("history"));
    result.best_ap = state.at("best_ap");
    result.best_epoch = state.at("best_epoch");
    result.default_threshold = state.at("default_threshold");
    LOG_INFO("resuming after epoch " << first_epoch - 1 << " from " << checkpoint);
  } else if (opt.resume) {
    LOG_WARN("--resume: no checkpoint in " << opt.out_dir << ", starting afresh");
  }

  // Hard negatives (PN only, see Check), mined with the live weights after every epoch; on
  // --resume, again from the checkpoint's weights.
  const bool mine = po.hard_negative_fraction > 0;
  std::vector<std::vector<std::pair<double, double>>> hard_negatives;
  if (mine && first_epoch > 1) hard_negatives = MineHardNegatives(model, train, d_binned, opt.threads);

  const int total_steps = opt.epochs * opt.steps_per_epoch;
  const int last_epoch = opt.stop_after_epoch > 0 ? std::min(opt.epochs, opt.stop_after_epoch) : opt.epochs;
  // Time estimates from this run's epochs: start to start (steps, validation, mining, checkpoint),
  // and the steps alone (the rest follows an epoch's last step).
  const double loop_start = NowSeconds();
  double step_seconds = 0;
  for (int epoch = first_epoch; epoch <= last_epoch; ++epoch) {
    const double te = NowSeconds();
    const int epochs_done = epoch - first_epoch;
    ProgressOptions progress_options;
    progress_options.unit = "batches";
    Progress progress("epoch " + std::to_string(epoch) + "/" + std::to_string(opt.epochs), opt.steps_per_epoch,
                      progress_options);
    ProgressAfter after;
    after.units = last_epoch - epoch;
    if (epochs_done > 0) {
      after.seconds_each = (te - loop_start) / epochs_done;
      after.seconds_extra = std::max(0.0, after.seconds_each - step_seconds / epochs_done);
    }
    progress.SetAfter(after);
    double sum = 0, lr = opt.learning_rate;
    for (int s = 0; s < opt.steps_per_epoch; ++s) {
      const int step = (epoch - 1) * opt.steps_per_epoch + s;
      // Cosine schedule from lr down to lr/20.
      lr = opt.learning_rate * (0.05 + 0.95 * 0.5 * (1 + std::cos(kPi * step / total_steps)));
      model.SetLearningRate(lr);
      const double l = model.TrainStep(
          SampleBatch(train, labels, po, opt.seed, step, hard_negatives.empty() ? nullptr : &hard_negatives), loss,
          po.margin);
      if (!std::isfinite(l))
        throw InternalError("training diverged (loss " + std::to_string(l) + ") at step " + std::to_string(step));
      sum += l;
      char suffix[64];
      std::snprintf(suffix, sizeof suffix, "loss %.4f", sum / (s + 1));
      progress.SetSuffix(suffix);
      progress.Advance();
    }
    progress.Finish();
    step_seconds += NowSeconds() - te;
    // Validate and keep the averaged weights; train on with the live ones.
    const bool averaged = model.HasAveragedWeights();
    if (averaged) model.SwapAveragedWeights();
    const Validation v = Validate(model, valid, opt.max_validation_peaks, opt.threads);
    EpochRecord rec{epoch, sum / opt.steps_per_epoch, lr, v.ap, v.f1, v.precision, v.recall, v.threshold, 0};
    rec.seconds = NowSeconds() - te;
    result.history.push_back(rec);
    LOG_INFO("epoch " << epoch << "/" << opt.epochs << ": loss " << rec.loss << ", validation AP " << v.ap
                      << ", best F1 " << v.f1 << " at threshold " << v.threshold << " (" << rec.seconds << " s"
                      << (epoch < last_epoch
                              ? "; training ETA " + FormatDuration((last_epoch - epoch) * (NowSeconds() - loop_start) /
                                                                   (epochs_done + 1))
                              : std::string())
                      << ")");
    if (v.ap > result.best_ap) {
      result.best_ap = v.ap;
      result.best_epoch = epoch;
      result.default_threshold = v.threshold;
      model.mutable_meta().default_threshold = v.threshold;
      model.mutable_meta().training_json = nlohmann::json({{"epoch", epoch},
                                                           {"val_ap", v.ap},
                                                           {"val_best_f1", v.f1},
                                                           {"objective", opt.objective},
                                                           {"pi", loss.pi},
                                                           {"seed", opt.seed},
                                                           {"train_micrographs", train.size()},
                                                           {"train_labels", n_labels}})
                                               .dump();
      model.Save(result.model_path);
    }
    if (averaged) model.SwapAveragedWeights();
    if (mine && epoch < last_epoch) hard_negatives = MineHardNegatives(model, train, d_binned, opt.threads);
    nlohmann::json state = {{"epoch", epoch},
                            {"history", HistoryJson(result.history)},
                            {"best_ap", result.best_ap},
                            {"best_epoch", result.best_epoch},
                            {"default_threshold", result.default_threshold},
                            {"setup", setup}};
    model.SaveCheckpoint(checkpoint, state.dump());
  }
  // The default threshold: F1-optimal over every annotated micrograph with the best epoch's weights.
  result.validation_threshold = result.default_threshold;
  if (opt.threshold_from == "all" && separate_validation && result.best_epoch > 0) {
    CnnModel best = CnnModel::Load(result.model_path, device);
    std::vector<AnnotatedMicrograph> all = train;
    all.insert(all.end(), valid.begin(), valid.end());
    const Validation v = Validate(best, all, opt.max_validation_peaks, opt.threads);
    result.default_threshold = v.threshold;
    best.mutable_meta().default_threshold = v.threshold;
    best.Save(result.model_path);
    LOG_INFO("threshold " << v.threshold << " (best F1 " << v.f1 << " over the " << all.size()
                          << " training and validation micrographs; validation alone: " << result.validation_threshold
                          << ")");
  }
  result.seconds = NowSeconds() - t0;

  if (opt.export_torchscript) {
    result.torchscript_path = JoinPath(opt.out_dir, "model.torchscript.pt");
    CnnModel::Load(result.model_path).ExportTorchScript(result.torchscript_path);
  }
  result.curves_path = JoinPath(opt.out_dir, "training_curves.png");
  WriteTrainingCurves(result.curves_path, result.history);
  result.report_path = JoinPath(opt.out_dir, "training_report.json");
  nlohmann::json report = {{"model", result.model_path},
                           {"torchscript", result.torchscript_path},
                           {"architecture", opt.architecture},
                           {"width", opt.width},
                           {"parameters", model.NumParameters()},
                           {"receptive_field_px", rf},
                           {"objective", opt.objective},
                           {"pi", loss.pi},
                           {"expected_particles_per_micrograph", expected},
                           {"slack", opt.slack},
                           {"focal_gamma", opt.focal_gamma},
                           {"diameter_angstrom", diameter},
                           {"working_pixel_size", meta.working_pixel_size},
                           {"diameter_binned_px", d_binned},
                           {"local_normalise_angstrom", meta.local_normalise_angstrom},
                           {"train_micrographs", train.size()},
                           {"train_labels", n_labels},
                           {"valid_micrographs", valid.size()},
                           {"valid_micrograph_paths",
                            [&] {
                              nlohmann::json a = nlohmann::json::array();
                              for (const auto& m : valid) a.push_back(m.path);
                              return a;
                            }()},
                           {"cache_hit", result.cache_hit},
                           {"epochs", opt.epochs},
                           {"steps_per_epoch", opt.steps_per_epoch},
                           {"batch_size", po.batch},
                           {"patch_px", po.patch},
                           {"test_time_augmentation", opt.test_time_augmentation},
                           {"score_smoothing", opt.score_smoothing},
                           {"positive_fraction", po.positive_fraction},
                           {"hard_negative_fraction", mine ? po.hard_negative_fraction : 0.0},
                           {"label_radius_px", po.label_radius},
                           {"learning_rate", opt.learning_rate},
                           {"weight_average", opt.weight_average},
                           {"seed", opt.seed},
                           {"threads", opt.threads},
                           {"torch", TorchSummary()},
                           {"best_epoch", result.best_epoch},
                           {"best_val_ap", result.best_ap},
                           {"default_threshold", result.default_threshold},
                           {"threshold_from", separate_validation ? opt.threshold_from : "validation"},
                           {"validation_threshold", result.validation_threshold},
                           {"seconds", result.seconds},
                           {"history", HistoryJson(result.history)}};
  WriteTextFile(result.report_path, report.dump(2) + "\n");
  return result;
}

}  // namespace emkit
