// Training the CNN picker from annotated micrographs (`emkit train`): dataset + HDF5 cache,
// PN or PU (GE-binomial) objective, Adam with a cosine learning-rate schedule, a checkpoint
// every epoch (--resume), validation AP per epoch, the best model kept, a JSON report and a
// PNG of the loss/AP curves. Torch-free: the network sits behind models/cnn_model.h.
#pragma once

#include <string>
#include <vector>

#include "io/coordinates.h"
#include "picker/evaluate.h"
#include "training/dataset.h"
#include "training/patches.h"

namespace emkit {

struct TrainOptions {
  DatasetOptions train;  // preprocess.working_pixel_size is derived from the diameter
  std::vector<std::string> valid_micrographs;
  std::string valid_coordinates;
  double valid_fraction = 0.2;     // used when no validation set is given
  double diameter_angstrom = 0;    // particle diameter, Å ...
  double diameter_px = 0;          // ... or original micrograph pixels
  double diameter_px_target = 20;  // particle size after binning
  // Local normalisation window in particle diameters (stored in the model); 0 = one robust
  // mean/std per micrograph.
  double local_normalise_diameters = 4;
  std::string out_dir;
  std::string architecture = "resnet10";  // receptive field 65 px: +0.02 F1 over resnet8 (benchmarks/cnn)
  int width = 32;
  std::string objective = "pu";   // "pu" (GE-binomial) | "pn"
  double expected_particles = 0;  // PU: particles per micrograph; 0 = 1.5 x labelled mean
  double slack = 1;
  double focal_gamma = 0;  // PN: focal loss exponent (0 = cross-entropy)
  // patches.hard_negative_fraction < 0 (the default here): 0.25 with the PN objective, 0 with PU
  // (an unlabelled peak may be a particle). With PN, score smoothing, 4-fold augmentation and the
  // pooled threshold, mining gave F1 0.907 / 0.910 / 0.908 for seeds 1-3 against 0.907 / 0.899 /
  // 0.906 without it, AP +0.004 (benchmarks/results/cnn/ADDENDA.md).
  PatchOptions patches = [] {
    PatchOptions p;
    p.hard_negative_fraction = -1;
    return p;
  }();
  int epochs = 20;  // 10 -> 20 with weight averaging: F1 +0.02 on the simulated set (benchmarks/cnn)
  int steps_per_epoch = 30;
  double learning_rate = 3e-3;  // measured: few-minute runs learn much faster than at 1e-3
  double weight_decay = 0;
  // Decay of the exponential moving average of the weights that is validated and saved (0 = the
  // last step's weights).
  double weight_average = 0.99;
  uint64_t seed = 42;
  int threads = 1;
  bool resume = false;
  std::string device = "cpu";
  bool export_torchscript = false;
  bool channels_last = false;  // training layout; NCHW measured faster (benchmarks/cnn)
  // Stored in the model; validation uses it too (1, 4 or 8; 0 = 4 for ResNets, 1 for the U-Net,
  // whose pooling grid is not rotation-symmetric). 4 quarter turns: +0.006-0.011 best F1 with
  // score smoothing on the simulated set; picking a 4096² micrograph ~0.8 s on 2 cores
  // (benchmarks/results/cnn/ADDENDA.md).
  int test_time_augmentation = 0;
  // Sigma of the Gaussian blur of the log-odds map before peak finding, in particle diameters
  // (stored in the model in binned pixels; validation uses it too). 0.1: best F1 +0.006-0.009 on
  // three simulated models (benchmarks/results/cnn/ADDENDA.md).
  double score_smoothing = 0.1;
  // Micrographs whose labels choose the model's default threshold (max F1), with the weights of
  // the best validation epoch: "all" (training + validation) or "validation". The threshold is one
  // number and the networks do not overfit their training micrographs (weight averaging,
  // augmentation), so 5x more particles beat unseen ones: on five simulated models the "all"
  // threshold was within 0.06 of the test set's best, validation's 0.2-0.6 away (ADDENDA.md).
  std::string threshold_from = "all";
  int max_validation_peaks = 0;  // 0 = no limit
  int stop_after_epoch = 0;      // > 0: stop after this epoch (time-boxed runs; --resume continues)
  void Check() const;            // throws InvalidInputError naming the option
};

struct EpochRecord {
  int epoch = 0;
  double loss = 0, learning_rate = 0, ap = 0, f1 = 0, precision = 0, recall = 0, threshold = 0, seconds = 0;
};

struct TrainResult {
  std::string model_path, report_path, curves_path, torchscript_path;
  std::vector<EpochRecord> history;
  int best_epoch = 0;
  double best_ap = -1, default_threshold = 0, pi = 0, seconds = 0;
  double validation_threshold = 0;  // F1-optimal on the validation micrographs at the best epoch
  bool cache_hit = false;
};

TrainResult Train(const TrainOptions& opt);

// How training scores a model's picks of annotated micrographs (validation AP, and the F1-optimal
// threshold it stores as the model's default): picks[i] are micrograph i's picks in its original
// pixels, as `emkit pick --method cnn` writes them (training finds them through the same picker and
// pick options); labels within a particle radius of the edge are left out, as pick's default
// border leaves out peaks; matched one-to-one within half a diameter, in binned pixels.
PickMetrics ScoreCnnValidation(const std::vector<std::vector<Coordinate>>& picks,
                               const std::vector<AnnotatedMicrograph>& set, double diameter_angstrom);

// Writes a PNG plot of training loss and validation AP per epoch (atomically).
void WriteTrainingCurves(const std::string& path, const std::vector<EpochRecord>& history);

}  // namespace emkit
