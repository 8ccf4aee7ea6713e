// A picker that turns a preprocessed micrograph into a per-pixel score map at the same
// (binned) resolution. Template matching, LoG and the CNN all implement it, so peak finding,
// thresholds, outputs and evaluation are shared. Torch-free: the CNN implementation lives in
// models/ and is created through models/cnn_picker.h.
#pragma once

#include <string>
#include <vector>

#include "core/image.h"
#include "io/coordinates.h"
#include "picker/preprocess.h"

namespace emkit {

class ScoreMapper {
 public:
  virtual ~ScoreMapper() = default;
  // Score map with the same size as micrograph.image; higher = more particle-like.
  virtual Image Score(const PreprocessedMicrograph& micrograph) = 0;
  virtual std::string name() const = 0;
  // Optional: fills per-peak labels from the last Score() (class_number, psi) for peaks in
  // score-map pixels. Default: leaves them as they are.
  virtual void Annotate(std::vector<Coordinate>* peaks) const {}
};

}  // namespace emkit
