// Micrographs from MRC or, through OpenCV, TIFF/PNG/JPG (8- or 16-bit, grey or colour).
// Library emkit_io_images (the only part of io/ that links OpenCV; the light emkit commands
// do not load it).
#pragma once

#include <string>

#include "core/image.h"
#include "io/png.h"

namespace emkit {

struct MicrographInfo {
  double pixel_size = 0;  // Å from the MRC header, 0 when unknown (image formats)
  int bit_depth = 32;
};

// Reads one micrograph as float (first section of an MRC stack). Throws IoError naming
// the file; refuses NaN/Inf pixels.
Image ReadMicrograph(const std::string& path, MicrographInfo* info = nullptr);

// Height in pixels of a micrograph: from the MRC header, else by decoding the image.
int ReadMicrographHeight(const std::string& path);

// Sets OpenCV's own thread count.
void SetImageLibraryThreads(int threads);

}  // namespace emkit
