// Torch-free factory of the CNN picker for `emkit pick --method cnn`: the score mapper (per-pixel
// log-odds) plus the preprocessing and threshold stored in the model file. Training picks its
// validation micrographs through the same picker and pick options (CnnPickOptions), so the
// threshold it stores is chosen on the path that picks.
#pragma once

#include <memory>
#include <string>

#include "models/cnn_model.h"
#include "picker/pick.h"
#include "picker/preprocess.h"
#include "picker/score_map.h"

namespace emkit {

struct CnnPicker {
  std::unique_ptr<ScoreMapper> mapper;  // Score(): log-odds map at the binned resolution
  PreprocessOptions preprocess;         // the preprocessing the model was trained with
  double default_threshold = 0;         // log-odds, from validation F1 at training time
  double diameter_angstrom = 0;
  int receptive_field = 0;  // binned pixels
};

// Preprocessing stored in a model's metadata.
PreprocessOptions CnnPreprocessOptions(const CnnModelMeta& meta, int threads);

// A ScoreMapper around a model (shared, so training can score validation micrographs).
std::unique_ptr<ScoreMapper> MakeCnnScoreMapper(std::shared_ptr<CnnModel> model, int tile = 1024);

// The picker of a model in memory (LoadCnnPicker's, and training's for validation).
CnnPicker MakeCnnPicker(std::shared_ptr<CnnModel> model, int threads, int tile = 1024);

// The options `emkit pick --method cnn` picks with by default: the model's diameter,
// preprocessing and threshold, picks at least half a diameter apart (min_distance 0) and none
// within a particle radius of the edge. Header-only: models links no picker library.
inline PickOptions CnnPickOptions(const CnnPicker& picker, int threads) {
  PickOptions o;
  o.diameter = picker.diameter_angstrom;
  o.threshold = picker.default_threshold;
  o.border = 0.5 * picker.diameter_angstrom;
  o.preprocess = picker.preprocess;
  o.threads = threads;
  return o;
}

// Loads a model file for picking; device "cpu" | "cuda[:N]"; sets torch's thread count.
// test_time_augmentation > 0 replaces the model's (1, 4 or 8 dihedral transforms);
// score_smoothing_diameters >= 0 replaces the model's score-map blur (sigma in diameters).
CnnPicker LoadCnnPicker(const std::string& model_path, const std::string& device, int threads, int tile = 1024,
                        int test_time_augmentation = 0, double score_smoothing_diameters = -1);

}  // namespace emkit
