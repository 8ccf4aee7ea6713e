// Loss / validation-AP curves as a PNG (OpenCV drawing; no plotting library needed in C++).
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/files.h"
#include "training/trainer.h"

namespace emkit {
namespace {

void Panel(cv::Mat& img, cv::Rect box, const std::vector<double>& y, const std::string& title, double lo, double hi,
           cv::Scalar colour) {
  cv::rectangle(img, box, cv::Scalar(0, 0, 0), 1);
  cv::putText(img, title, {box.x + 4, box.y - 6}, cv::FONT_HERSHEY_SIMPLEX, 0.45, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", hi);
  cv::putText(img, buf, {box.x - 42, box.y + 10}, cv::FONT_HERSHEY_SIMPLEX, 0.35, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  std::snprintf(buf, sizeof buf, "%.3g", lo);
  cv::putText(img, buf, {box.x - 42, box.y + box.height}, cv::FONT_HERSHEY_SIMPLEX, 0.35, cv::Scalar(0, 0, 0), 1,
              cv::LINE_AA);
  if (y.empty()) return;
  if (hi <= lo) hi = lo + 1;
  auto pt = [&](std::size_t i) {
    const double fx = y.size() > 1 ? double(i) / (y.size() - 1) : 0.5;
    const double fy = (y[i] - lo) / (hi - lo);
    return cv::Point(box.x + static_cast<int>(fx * box.width), box.y + box.height - static_cast<int>(fy * box.height));
  };
  for (std::size_t i = 0; i < y.size(); ++i) {
    if (i > 0) cv::line(img, pt(i - 1), pt(i), colour, 2, cv::LINE_AA);
    cv::circle(img, pt(i), 3, colour, -1, cv::LINE_AA);
  }
  std::snprintf(buf, sizeof buf, "epochs 1..%zu", y.size());
  cv::putText(img, buf, {box.x + box.width / 2 - 40, box.y + box.height + 18}, cv::FONT_HERSHEY_SIMPLEX, 0.4,
              cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
}

}  // namespace

void WriteTrainingCurves(const std::string& path, const std::vector<EpochRecord>& history) {
  cv::Mat img(300, 760, CV_8UC3, cv::Scalar(255, 255, 255));
  std::vector<double> loss, ap;
  for (const auto& e : history) loss.push_back(e.loss), ap.push_back(e.ap);
  double lo = 0, hi = 1;
  if (!loss.empty()) {
    lo = *std::min_element(loss.begin(), loss.end());
    hi = *std::max_element(loss.begin(), loss.end());
    const double pad = 0.05 * (hi - lo + 1e-12);
    lo -= pad, hi += pad;
  }
  Panel(img, {60, 30, 300, 230}, loss, "training loss", lo, hi, cv::Scalar(200, 80, 0));
  Panel(img, {440, 30, 300, 230}, ap, "validation AP", 0, 1, cv::Scalar(0, 140, 0));
  std::vector<unsigned char> png;
  if (!cv::imencode(".png", img, png)) throw IoError(path + ": PNG encoding failed");
  WriteBinaryFile(path, png);
}

}  // namespace emkit
