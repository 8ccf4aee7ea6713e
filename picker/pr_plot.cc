#include "picker/pr_plot.h"

#include <cstdio>

#include "io/plot.h"

namespace emkit {

void WritePrCurvePng(const std::string& path, const std::vector<PrCurve>& curves, const std::string& title) {
  LinePlot p;
  p.title = title;
  p.x_label = "recall";
  p.y_label = "precision";
  p.x_tick_text = p.y_tick_text = [](double v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return std::string(buf);
  };
  for (const PrCurve& c : curves) {
    PlotCurve pc;
    pc.label = c.label;
    for (const auto& pt : c.points) {
      pc.x.push_back(pt.recall);
      pc.y.push_back(pt.precision);
    }
    p.curves.push_back(std::move(pc));
  }
  WriteLinePlotPng(path, p);
}

}  // namespace emkit
