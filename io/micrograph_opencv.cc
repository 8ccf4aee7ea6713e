#include <algorithm>
#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/files.h"
#include "io/micrograph.h"
#include "io/mrc.h"

namespace emkit {

namespace {
bool IsMrc(const std::string& path) {
  const std::string ext = Extension(path);  // lower case
  return ext == ".mrc" || ext == ".mrcs" || ext == ".map";
}
}  // namespace

Image ReadMicrograph(const std::string& path, MicrographInfo* info) {
  const std::string ext = Extension(path);
  Image out;
  MicrographInfo mi;
  if (IsMrc(path)) {
    MrcHeader h = ReadMrcHeader(path);
    out = ReadMrcSection(path, 0, &h);
    mi.pixel_size = h.PixelSize();
  } else {
    if (!FileExists(path)) throw IoError(path + ": no such file");
    cv::Mat m;
    try {
      m = cv::imread(path, cv::IMREAD_ANYDEPTH | cv::IMREAD_ANYCOLOR);
    } catch (const cv::Exception& e) {
      throw IoError(path + ": cannot decode image: " + e.what());
    }
    if (m.empty()) throw IoError(path + ": cannot decode image (unsupported or corrupt " + ext + ")");
    if (m.channels() == 3)
      cv::cvtColor(m, m, cv::COLOR_BGR2GRAY);
    else if (m.channels() == 4)
      cv::cvtColor(m, m, cv::COLOR_BGRA2GRAY);
    mi.bit_depth = m.depth() == CV_8U ? 8 : m.depth() == CV_16U ? 16 : 32;
    cv::Mat f;
    m.convertTo(f, CV_32F);
    out.Resize(f.cols, f.rows, 1);
    for (int y = 0; y < f.rows; ++y) std::copy(f.ptr<float>(y), f.ptr<float>(y) + f.cols, &out(0, y));
  }
  for (float v : out)
    if (!std::isfinite(v)) throw IoError(path + ": micrograph contains NaN or Inf pixels");
  if (info) *info = mi;
  return out;
}

int ReadMicrographHeight(const std::string& path) {
  return IsMrc(path) ? ReadMrcHeader(path).ny : ReadMicrograph(path).ny();
}

void SetImageLibraryThreads(int threads) { cv::setNumThreads(std::max(1, threads)); }

}  // namespace emkit
