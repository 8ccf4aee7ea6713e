#include <png.h>

#include <algorithm>
#include <cstdio>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/files.h"
#include "io/plot.h"

namespace emkit {
namespace {

std::string DefaultTick(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

cv::Mat DrawLinePlot(const LinePlot& p) {
  const int w = 640, h = 560, left = 70, right = 20, top = 40, bottom = 60;
  cv::Mat img(h, w, CV_8UC3, cv::Scalar(255, 255, 255));
  const double xr = p.x_max > p.x_min ? p.x_max - p.x_min : 1, yr = p.y_max > p.y_min ? p.y_max - p.y_min : 1;
  auto X = [&](double v) { return static_cast<int>(std::lround(left + (v - p.x_min) / xr * (w - left - right))); };
  auto Y = [&](double v) {
    return static_cast<int>(std::lround(h - bottom - (v - p.y_min) / yr * (h - top - bottom)));
  };
  const cv::Scalar grid(225, 225, 225), black(0, 0, 0), grey(120, 120, 120);
  for (int i = 0; i <= p.grid; ++i) {
    const double fx = p.x_min + xr * i / p.grid, fy = p.y_min + yr * i / p.grid;
    cv::line(img, {X(fx), Y(p.y_min)}, {X(fx), Y(p.y_max)}, grid, 1);
    cv::line(img, {X(p.x_min), Y(fy)}, {X(p.x_max), Y(fy)}, grid, 1);
  }
  const auto xt = p.x_tick_text ? p.x_tick_text : DefaultTick;
  const auto yt = p.y_tick_text ? p.y_tick_text : DefaultTick;
  for (int i = 0; i <= p.ticks; ++i) {
    const double fx = p.x_min + xr * i / p.ticks, fy = p.y_min + yr * i / p.ticks;
    cv::putText(img, xt(fx), {X(fx) - 12, Y(p.y_min) + 20}, cv::FONT_HERSHEY_SIMPLEX, 0.45, black, 1, cv::LINE_AA);
    cv::putText(img, yt(fy), {left - 45, Y(fy) + 5}, cv::FONT_HERSHEY_SIMPLEX, 0.45, black, 1, cv::LINE_AA);
  }
  for (double v : p.h_lines) {
    if (v < p.y_min || v > p.y_max) continue;
    for (int x = X(p.x_min); x < X(p.x_max); x += 12)
      cv::line(img, {x, Y(v)}, {std::min(x + 6, X(p.x_max)), Y(v)}, grey, 1);
  }
  cv::rectangle(img, {X(p.x_min), Y(p.y_max)}, {X(p.x_max), Y(p.y_min)}, black, 1);
  cv::putText(img, p.x_label, {X((p.x_min + p.x_max) / 2) - 4 * static_cast<int>(p.x_label.size()), h - 18},
              cv::FONT_HERSHEY_SIMPLEX, 0.55, black, 1, cv::LINE_AA);
  cv::putText(img, p.y_label, {8, top - 12}, cv::FONT_HERSHEY_SIMPLEX, 0.55, black, 1, cv::LINE_AA);
  if (!p.title.empty()) {
    // After the y axis label, however long it is.
    int baseline = 0;
    const int label_end = 8 + cv::getTextSize(p.y_label, cv::FONT_HERSHEY_SIMPLEX, 0.55, 1, &baseline).width;
    cv::putText(img, p.title, {std::max(left + 90, label_end + 24), top - 12}, cv::FONT_HERSHEY_SIMPLEX, 0.55, black, 1,
                cv::LINE_AA);
  }
  const cv::Scalar colours[] = {{180, 119, 31}, {14, 127, 255},  {44, 160, 44},
                                {40, 39, 214},  {189, 103, 148}, {75, 86, 140}};
  for (std::size_t c = 0; c < p.curves.size(); ++c) {
    const cv::Scalar col = colours[c % 6];
    const PlotCurve& cu = p.curves[c];
    std::vector<cv::Point> pts;
    for (std::size_t i = 0; i < std::min(cu.x.size(), cu.y.size()); ++i) pts.push_back({X(cu.x[i]), Y(cu.y[i])});
    if (pts.size() >= 2) cv::polylines(img, pts, false, col, 2, cv::LINE_AA);
    if (pts.size() == 1) cv::circle(img, pts[0], 3, col, cv::FILLED);
    const int ly = Y(p.y_min) - 15 - 22 * static_cast<int>(p.curves.size() - 1 - c);
    cv::line(img, {X(p.x_min) + 10, ly - 5}, {X(p.x_min) + 40, ly - 5}, col, 3);
    cv::putText(img, cu.label, {X(p.x_min) + 48, ly}, cv::FONT_HERSHEY_SIMPLEX, 0.5, black, 1, cv::LINE_AA);
  }
  return img;
}

// An 8-bit BGR picture as PNG through libpng (not imgcodecs: see io/CMakeLists.txt), atomically.
void WritePng(const std::string& path, const cv::Mat& img) {
  const cv::Mat packed = img.isContinuous() ? img : img.clone();
  WriteAtomically(path, [&](const std::string& tmp) {
    png_image png{};
    png.version = PNG_IMAGE_VERSION;
    png.width = static_cast<png_uint_32>(packed.cols);
    png.height = static_cast<png_uint_32>(packed.rows);
    png.format = PNG_FORMAT_BGR;
    const int ok = png_image_write_to_file(&png, tmp.c_str(), 0, packed.data, 0, nullptr);
    const std::string why = png.message;
    png_image_free(&png);
    if (!ok) throw IoError(path + ": cannot write PNG: " + why);
  });
}

}  // namespace

void WriteLinePlotPng(const std::string& path, const LinePlot& p) { WritePng(path, DrawLinePlot(p)); }

void WritePictureAndPlotPng(const std::string& path, const Image& picture, const std::string& caption,
                            const LinePlot& plot) {
  const cv::Mat right = DrawLinePlot(plot);
  const int side = right.rows;
  cv::Mat img(side, side + right.cols, CV_8UC3, cv::Scalar(255, 255, 255));
  if (!picture.empty()) {
    float lo = picture[0], hi = picture[0];
    for (float v : picture) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    cv::Mat grey(picture.ny(), picture.nx(), CV_8UC1);
    for (int y = 0; y < picture.ny(); ++y)
      for (int x = 0; x < picture.nx(); ++x)
        grey.at<unsigned char>(y, x) =
            static_cast<unsigned char>(hi > lo ? std::lround(255.0 * (picture(x, y) - lo) / (hi - lo)) : 0);
    cv::Mat scaled, colour;
    const double f = std::min(double(side) / picture.nx(), double(side) / picture.ny());
    cv::resize(grey, scaled, cv::Size(), f, f, f >= 1 ? cv::INTER_NEAREST : cv::INTER_AREA);
    cv::cvtColor(scaled, colour, cv::COLOR_GRAY2BGR);
    colour.copyTo(img(cv::Rect(0, 0, colour.cols, colour.rows)));
  }
  if (!caption.empty()) {
    const cv::Size t = cv::getTextSize(caption, cv::FONT_HERSHEY_SIMPLEX, 0.5, 1, nullptr);
    cv::rectangle(img, {4, 4}, {12 + t.width, 14 + t.height}, cv::Scalar(0, 0, 0), cv::FILLED);
    cv::putText(img, caption, {8, 9 + t.height}, cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar(255, 255, 255), 1,
                cv::LINE_AA);
  }
  right.copyTo(img(cv::Rect(side, 0, right.cols, right.rows)));
  WritePng(path, img);
}

}  // namespace emkit
