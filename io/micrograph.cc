#include "io/micrograph.h"

#include <algorithm>
#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/files.h"
#include "io/mrc.h"

namespace emkit {

Image ReadMicrograph(const std::string& path, MicrographInfo* info) {
  const std::string ext = Extension(path);
  Image out;
  MicrographInfo mi;
  if (ext == ".mrc" || ext == ".mrcs" || ext == ".map") {
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

std::vector<unsigned char> ToGrey8(const Image& img, double lo_p, double hi_p) {
  std::vector<float> sorted(img.begin(), img.end());
  const std::size_t n = sorted.size();
  auto pct = [&](double p) {
    const std::size_t k = std::min(n - 1, static_cast<std::size_t>(p / 100.0 * (n - 1)));
    std::nth_element(sorted.begin(), sorted.begin() + k, sorted.end());
    return sorted[k];
  };
  const float lo = pct(lo_p), hi = pct(hi_p);
  const float scale = hi > lo ? 255.f / (hi - lo) : 0.f;
  std::vector<unsigned char> out(n);
  for (std::size_t i = 0; i < n; ++i)
    out[i] = static_cast<unsigned char>(std::clamp((img[i] - lo) * scale, 0.f, 255.f));
  return out;
}

void WritePng(const std::string& path, const Image& img, double lo_p, double hi_p) {
  if (img.empty()) throw InvalidInputError(path + ": empty image");
  std::vector<unsigned char> grey = ToGrey8(img, lo_p, hi_p);
  cv::Mat m(img.ny(), img.nx(), CV_8U, grey.data());
  WriteAtomically(path, [&](const std::string& tmp) {
    // OpenCV picks the codec from the extension: give the temporary name one.
    const std::string tmp_png = tmp + ".png";
    if (!cv::imwrite(tmp_png, m)) throw IoError(path + ": cannot write PNG");
    if (std::rename(tmp_png.c_str(), tmp.c_str()) != 0) throw IoError(path + ": cannot write PNG");
  });
}

void SetImageLibraryThreads(int threads) { cv::setNumThreads(std::max(1, threads)); }

}  // namespace emkit
