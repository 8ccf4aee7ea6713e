#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
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
// OpenCV decodes a truncated JPEG or PNG with only a libjpeg/libpng warning on stderr (the
// missing rows grey): refuse a file that does not end with its format's end marker (JPEG EOI
// 0xFFD9, PNG IEND chunk), allowing a little trailing padding.
void CheckImageComplete(const std::string& path, const std::string& ext) {
  const bool jpeg = ext == ".jpg" || ext == ".jpeg", png = ext == ".png";
  if (!jpeg && !png) return;
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  const std::streamoff size = in.tellg();
  const std::streamoff tail = std::min<std::streamoff>(size, 64);
  std::string bytes(static_cast<std::size_t>(tail), '\0');
  in.seekg(size - tail);
  in.read(bytes.data(), tail);
  if (!in) throw IoError(path + ": cannot read");
  const bool complete = jpeg ? bytes.find("\xff\xd9") != std::string::npos : bytes.find("IEND") != std::string::npos;
  if (!complete)
    throw IoError(path + ": truncated or incomplete " +
                  std::string(jpeg ? "JPEG (no end-of-image marker 0xFFD9)" : "PNG (no IEND chunk)") + " at its end (" +
                  std::to_string(size) + " bytes)");
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
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) throw IoError(path + ": is a folder, not a micrograph");
    if (ext.empty()) throw IoError(path + ": no file extension (expected .mrc, .tif, .png or .jpg)");
    CheckImageComplete(path, ext);
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
