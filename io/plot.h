// Line plots as PNG (drawn with OpenCV; part of emkit_io_images): FSC curves, precision-recall
// curves, class sizes per iteration. One colour per curve, legend at the bottom left.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/image.h"

namespace emkit {

struct PlotCurve {
  std::string label;  // legend text
  std::vector<double> x, y;
};

struct LinePlot {
  std::string title, x_label, y_label;
  double x_min = 0, x_max = 1, y_min = 0, y_max = 1;
  int grid = 10;                                   // grid lines per axis
  int ticks = 5;                                   // labelled ticks per axis
  std::function<std::string(double)> x_tick_text;  // default: "%.2g"-style
  std::function<std::string(double)> y_tick_text;
  std::vector<double> h_lines;  // dashed horizontal reference lines (e.g. FSC = 0.143)
  std::vector<PlotCurve> curves;
};

// Writes the plot atomically; throws IoError naming the file.
void WriteLinePlotPng(const std::string& path, const LinePlot& plot);
// A grey picture (scaled from its minimum to its maximum, fitted to the plot's height) with a
// caption in its top-left corner, beside the plot, in one PNG written atomically.
void WritePictureAndPlotPng(const std::string& path, const Image& picture, const std::string& caption,
                            const LinePlot& plot);

}  // namespace emkit
