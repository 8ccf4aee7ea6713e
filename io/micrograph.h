// Micrographs from MRC or, through OpenCV, TIFF/PNG/JPG (8- or 16-bit, grey or colour).
#pragma once

#include <string>

#include "core/image.h"

namespace emkit {

struct MicrographInfo {
  double pixel_size = 0;  // Å from the MRC header, 0 when unknown (image formats)
  int bit_depth = 32;
};

// Reads one micrograph as float (first section of an MRC stack). Throws IoError naming
// the file; refuses NaN/Inf pixels.
Image ReadMicrograph(const std::string& path, MicrographInfo* info = nullptr);

// Writes an image as 8-bit PNG scaled between the given percentiles (for pictures).
void WritePng(const std::string& path, const Image& img, double low_percentile = 0.5, double high_percentile = 99.5);
// Converts to 8-bit grey with the same scaling (row-major, img.nx() x img.ny()).
std::vector<unsigned char> ToGrey8(const Image& img, double low_percentile, double high_percentile);

// Sets OpenCV's own thread count (TBB).
void SetImageLibraryThreads(int threads);

}  // namespace emkit
