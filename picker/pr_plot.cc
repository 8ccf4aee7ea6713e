#include "picker/pr_plot.h"

#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/files.h"

namespace emkit {

void WritePrCurvePng(const std::string& path, const std::vector<PrCurve>& curves, const std::string& title) {
  const int w = 640, h = 560, left = 70, right = 20, top = 40, bottom = 60;
  cv::Mat img(h, w, CV_8UC3, cv::Scalar(255, 255, 255));
  auto X = [&](double r) { return static_cast<int>(left + r * (w - left - right)); };
  auto Y = [&](double p) { return static_cast<int>(h - bottom - p * (h - top - bottom)); };
  const cv::Scalar grid(225, 225, 225), black(0, 0, 0);
  for (int i = 0; i <= 10; ++i) {
    cv::line(img, {X(i / 10.0), Y(0)}, {X(i / 10.0), Y(1)}, grid, 1);
    cv::line(img, {X(0), Y(i / 10.0)}, {X(1), Y(i / 10.0)}, grid, 1);
  }
  for (int i = 0; i <= 5; ++i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%.1f", i / 5.0);
    cv::putText(img, buf, {X(i / 5.0) - 12, Y(0) + 20}, cv::FONT_HERSHEY_SIMPLEX, 0.45, black, 1, cv::LINE_AA);
    cv::putText(img, buf, {left - 35, Y(i / 5.0) + 5}, cv::FONT_HERSHEY_SIMPLEX, 0.45, black, 1, cv::LINE_AA);
  }
  cv::rectangle(img, {X(0), Y(1)}, {X(1), Y(0)}, black, 1);
  cv::putText(img, "recall", {X(0.5) - 25, h - 18}, cv::FONT_HERSHEY_SIMPLEX, 0.55, black, 1, cv::LINE_AA);
  cv::putText(img, "precision", {8, top - 12}, cv::FONT_HERSHEY_SIMPLEX, 0.55, black, 1, cv::LINE_AA);
  if (!title.empty())
    cv::putText(img, title, {left + 90, top - 12}, cv::FONT_HERSHEY_SIMPLEX, 0.55, black, 1, cv::LINE_AA);
  const cv::Scalar colours[] = {{180, 119, 31}, {14, 127, 255},  {44, 160, 44},
                                {40, 39, 214},  {189, 103, 148}, {75, 86, 140}};
  for (std::size_t c = 0; c < curves.size(); ++c) {
    const cv::Scalar col = colours[c % 6];
    std::vector<cv::Point> pts;
    for (const auto& p : curves[c].points) pts.push_back({X(p.recall), Y(p.precision)});
    if (pts.size() >= 2) cv::polylines(img, pts, false, col, 2, cv::LINE_AA);
    if (pts.size() == 1) cv::circle(img, pts[0], 3, col, cv::FILLED);
    const int ly = Y(0) - 15 - 22 * static_cast<int>(curves.size() - 1 - c);
    cv::line(img, {X(0) + 10, ly - 5}, {X(0) + 40, ly - 5}, col, 3);
    cv::putText(img, curves[c].label, {X(0) + 48, ly}, cv::FONT_HERSHEY_SIMPLEX, 0.5, black, 1, cv::LINE_AA);
  }
  std::vector<unsigned char> png;
  if (!cv::imencode(".png", img, png)) throw IoError(path + ": cannot encode PNG");
  WriteBinaryFile(path, png);
}

}  // namespace emkit
