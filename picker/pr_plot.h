// Precision-recall curves as a PNG (io/plot.h; no Python needed).
#pragma once

#include <string>
#include <vector>

#include "picker/evaluate.h"

namespace emkit {

struct PrCurve {
  std::string label;  // legend text, e.g. "template (AP 0.81)"
  std::vector<PrPoint> points;
};

// Recall on x, precision on y, both [0, 1]; one colour per curve, legend at the bottom left.
void WritePrCurvePng(const std::string& path, const std::vector<PrCurve>& curves, const std::string& title = "");

}  // namespace emkit
