// Fully convolutional particle-picking networks (LibTorch behind a pimpl: no torch here).
// A CnnModel maps a preprocessed (binned, normalised) micrograph to a per-pixel log-odds map
// of the same size. One model file holds the weights and everything needed to rebuild the
// network and the preprocessing (CnnModelMeta), so picking needs nothing else.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/image.h"
#include "models/device.h"

namespace emkit {

// Everything stored beside the weights.
struct CnnModelMeta {
  std::string architecture = "resnet8";  // "resnet8" | "resnet10" | "unet"
  int width = 32;                        // channels of the first layer
  // Preprocessing used in training (and therefore required at picking).
  double working_pixel_size = 0;  // Å per binned pixel
  double diameter_angstrom = 0;   // particle diameter
  double highpass_angstrom = 0;   // 0 = off
  bool robust_normalise = true;
  double local_normalise_angstrom = 0;  // 0 = off (models written before it existed)
  bool invert = false;
  // Picking defaults.
  double default_threshold = 0;      // log-odds; chosen from validation F1 at training time
  std::string training_json = "{}";  // summary of the run that made the model (free form)
  // Memory layout for training on the CPU. NCHW is the default: benchmarks/cnn measured it ~1.6x
  // faster than channels-last for these dilated 3x3 networks' training steps. Inference uses
  // channels-last whatever this says (faster there once batch norm is folded).
  bool channels_last = false;
  // Test-time augmentation: the log-odds map is the mean over this many dihedral transforms of
  // the input (1 = none, 4 = the quarter turns, 8 = quarter turns and flips), each transformed
  // back. ResNets only (the U-Net's pooling grid is not symmetric under rotation).
  int test_time_augmentation = 1;
  // Sigma (binned pixels) of a Gaussian applied to the log-odds map before peaks are found
  // (mirrored edges), so that a peak's score pools the evidence of its neighbourhood rather than
  // one pixel's: +0.008 best F1 at sigma = 0.1 diameters on the simulated set
  // (benchmarks/results/cnn/ADDENDA.md). 0 = off (models written before it existed).
  double score_smoothing_px = 0;

  double DiameterBinnedPx() const { return working_pixel_size > 0 ? diameter_angstrom / working_pixel_size : 0; }
  std::string ToJson() const;
  static CnnModelMeta FromJson(const std::string& json, const std::string& where);
  void Check() const;  // throws InvalidInputError naming the field
};

// Names accepted for CnnModelMeta::architecture.
std::vector<std::string> CnnArchitectures();

// Loss of one minibatch. Labels per pixel: 1 = positive, 0 = unlabelled (PU) or negative (PN),
// -1 = ignored (not in the loss). PN: weighted mean binary cross-entropy over labelled pixels.
// GE-binomial (Topaz, science.md §4): (Σ_pos BCE + slack · penalty) / n_pos, the penalty over the
// unlabelled pixels selected by the batch's penalty mask.
enum class CnnObjective { kPn, kGeBinomial };
struct CnnLossOptions {
  CnnObjective objective = CnnObjective::kGeBinomial;
  double pi = 0.03;              // GE-binomial: expected positive fraction among unlabelled pixels
  double slack = 1.0;            // GE-binomial: weight of the penalty
  double positive_weight = 1.0;  // PN: weight of positive pixels
  // PN: focal loss exponent (Lin et al. 2017): each pixel's cross-entropy times (1 - p_t)^gamma,
  // p_t = the predicted probability of its label, so that confidently right pixels (most of the
  // background) weigh less than the hard ones. 0 = plain cross-entropy.
  double focal_gamma = 0.0;
};

// Minibatch of single-channel patches, n x h x w, row-major.
struct CnnBatch {
  int n = 0, h = 0, w = 0;
  std::vector<float> images;  // n*h*w
  std::vector<float> labels;  // n*h*w (see CnnLossOptions)
  // Second label map (same shape) selecting which unlabelled pixels enter the GE-binomial
  // penalty (1 = counted); empty = all label==0 pixels.
  std::vector<float> penalty_mask;
};

class CnnModel {
 public:
  // A new network with weights initialised from `seed`.
  static CnnModel Create(const CnnModelMeta& meta, uint64_t seed);
  // Reads a model file written by Save() (or a checkpoint). Throws IoError naming the file.
  static CnnModel Load(const std::string& path, const DeviceSpec& device = {});
  CnnModel(CnnModel&&) noexcept;
  CnnModel& operator=(CnnModel&&) noexcept;
  ~CnnModel();

  const CnnModelMeta& meta() const;
  CnnModelMeta& mutable_meta();
  int ReceptiveField() const;  // pixels (odd); analytic, verified by tests
  // Input sizes of Predict are padded internally to a multiple of this (U-Net pooling).
  int SizeMultiple() const;
  // Mirror padding added on every side before inference (covers half the receptive field).
  int Margin() const;
  int64_t NumParameters() const;
  // All parameters, flattened in a fixed order (tests and diagnostics).
  std::vector<float> ParameterValues() const;

  // Log-odds map of a binned, normalised micrograph; tiles of at most tile x tile pixels
  // overlapping by the receptive field (only tile centres kept), so the result does not
  // depend on the tile size. tile <= 0: one pass. Smoothed by meta.score_smoothing_px.
  // Not thread-safe (it folds batch norm into the network for the call): one caller at a time
  // per model, as emkit pick's single scoring stage does.
  Image Predict(const Image& image, int tile = 1024) const;

  // Weights + meta in one file (written atomically).
  void Save(const std::string& path) const;
  // TorchScript module (loadable with torch.jit.load / torch::jit::load) computing the same
  // log-odds from a (N,1,H,W) tensor; the meta JSON is stored as extra file "emkit.json"
  // and as the module's string attribute "emkit_meta".
  void ExportTorchScript(const std::string& path) const;
  // Runs an exported TorchScript file on an image (tests: the export computes the same map).
  static Image RunTorchScript(const std::string& path, const Image& image);

  // --- training (Adam) ---
  void ConfigureOptimiser(double learning_rate, double weight_decay);
  void SetLearningRate(double learning_rate);
  // One optimiser step on the batch; returns the loss before the step. The loss is evaluated
  // on the central region of each patch (margin pixels excluded on each side).
  double TrainStep(const CnnBatch& batch, const CnnLossOptions& loss, int margin);
  // Exponential moving average of the weights over training steps (Polyak averaging), updated
  // after every TrainStep with decay min(decay, (1 + t) / (10 + t)) at step t, batch-norm
  // statistics alike. decay 0 = off. Averaged weights generalise better and vary less
  // from epoch to epoch than the last step's (benchmarks/results/cnn/ADDENDA.md).
  void EnableWeightAveraging(double decay);
  bool HasAveragedWeights() const;
  // Exchanges the live and the averaged weights (validate or save the average, then swap back).
  void SwapAveragedWeights();
  // Checkpoint = model + optimiser state + averaged weights + caller's JSON state, atomically.
  void SaveCheckpoint(const std::string& path, const std::string& state_json) const;
  // Restores weights and optimiser state (ConfigureOptimiser must have been called); returns the JSON state.
  std::string LoadCheckpoint(const std::string& path);
  // The caller's JSON state of a checkpoint, without loading anything else (checks before resuming).
  static std::string ReadCheckpointState(const std::string& path);

  // Moves the network (and averaged weights) to the device; for training, before ConfigureOptimiser.
  void SetDevice(const DeviceSpec& device);
  // Predict's memory layout on the CPU: channels-last (default; faster with batch norm folded, see
  // Impl::InferenceFormat) or NCHW (benchmarks compare the two). Training uses meta.channels_last.
  void SetInferenceChannelsLast(bool channels_last);

 private:
  struct Impl;
  explicit CnnModel(std::unique_ptr<Impl> impl);
  static CnnModel Build(const CnnModelMeta& meta);  // random weights from torch's current generator
  std::unique_ptr<Impl> impl_;
};

// Loss of CnnLossOptions on given logits/labels, evaluated by the same code as TrainStep
// (for tests against a direct evaluation of the formula). Shapes as CnnBatch.
double CnnLoss(const std::vector<float>& logits, const std::vector<float>& labels,
               const std::vector<float>& penalty_mask, const CnnLossOptions& loss);

// Makes torch deterministic (deterministic algorithms, seeded generator).
void MakeTorchDeterministic(uint64_t seed);

}  // namespace emkit
