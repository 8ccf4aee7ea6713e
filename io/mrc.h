// MRC2014 reading and writing (science.md §1). Reads modes 0, 1, 2, 6, 12 (and 101);
// writes mode 2 (or 12). Header sizes are checked against the file before anything is
// allocated; every error names the file and the field.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "core/image.h"

namespace emkit {

enum class MrcKind { kImage, kStack, kVolume, kVolumeStack };

struct MrcHeader {
  int nx = 0, ny = 0, nz = 0, mode = 2;
  int nxstart = 0, nystart = 0, nzstart = 0;
  int mx = 0, my = 0, mz = 0;
  std::array<float, 3> cella{0, 0, 0};
  std::array<float, 3> cellb{90, 90, 90};
  int mapc = 1, mapr = 2, maps = 3;
  float dmin = 0, dmax = 0, dmean = 0, rms = 0;
  int ispg = 0;
  int nsymbt = 0;
  std::string exttyp;
  int nversion = 0;
  std::array<float, 3> origin{0, 0, 0};
  int nlabl = 0;
  std::array<std::string, 10> labels;
  bool swapped = false;  // big-endian file

  // Pixel size in Å along x (cella.x / mx), 0 when the header has none.
  double PixelSize() const;
  int BytesPerPixelTimes2() const;  // mode 101 packs two pixels in a byte
  std::size_t DataBytes() const;
  std::size_t DataOffset() const { return 1024 + static_cast<std::size_t>(nsymbt); }
  bool IsVolume() const { return ispg == 1 || (ispg >= 2 && ispg <= 230) || ispg == 401; }
};

// Reads and validates the header (and the file size); throws IoError naming file and field.
MrcHeader ReadMrcHeader(const std::string& path);

// Whole file: an image (nz = 1), a stack (nz sections) or a volume.
Image ReadMrc(const std::string& path, MrcHeader* header = nullptr);
// ReadMrc that refuses NaN/Inf pixels (maps and references: one bad value would spread through
// every FFT), naming the file, the count and the first one; `what` says what the file is for.
Image ReadMrcFinite(const std::string& path, const std::string& what, MrcHeader* header = nullptr);
// Number of NaN/Inf pixels of `img` and the index of the first (or -1).
std::size_t CountNonFinite(const Image& img, long* first = nullptr);

// One section (0-based) of a stack without reading the rest.
Image ReadMrcSection(const std::string& path, int section, const MrcHeader* known_header = nullptr);

struct MrcWriteOptions {
  double pixel_size = 1.0;         // Å
  MrcKind kind = MrcKind::kImage;  // kImage/kStack -> ispg 0, kVolume -> ispg 1
  int mode = 2;                    // 2 (float32) or 12 (float16)
  std::array<float, 3> origin{0, 0, 0};
  std::string label = "emkit";
};

// Writes atomically (temporary name, then rename).
void WriteMrc(const std::string& path, const Image& data, const MrcWriteOptions& opt = {});
void WriteMrcStack(const std::string& path, const ImageStack& images, const MrcWriteOptions& opt = {});

// Appends sections to a stack file opened once; used to stream particles to disk.
// The header (nz, statistics) is finalised by Close(), which renames into place.
class MrcStackWriter {
 public:
  MrcStackWriter(const std::string& path, int nx, int ny, const MrcWriteOptions& opt = {});
  ~MrcStackWriter();
  void Append(const Image& image);
  void Close();
  int count() const { return count_; }

 private:
  std::string path_, tmp_;
  MrcWriteOptions opt_;
  int nx_, ny_, count_ = 0;
  void* file_ = nullptr;
  double sum_ = 0, sum2_ = 0, min_ = 0, max_ = 0;
};

// float <-> IEEE half conversions (for mode 12).
float HalfToFloat(uint16_t h);
uint16_t FloatToHalf(float f);

}  // namespace emkit
