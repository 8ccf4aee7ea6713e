#include "io/mrc.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <vector>

#include "core/error.h"
#include "core/files.h"

namespace emkit {
namespace {

constexpr std::size_t kMaxElements = std::size_t(1) << 34;  // 16 G pixels: anything larger is a lying header

uint32_t Swap32(uint32_t v) { return (v >> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24); }

struct RawHeader {
  unsigned char bytes[1024];
  bool swapped = false;
  int32_t I(int word) const {
    uint32_t v;
    std::memcpy(&v, bytes + 4 * word, 4);
    if (swapped) v = Swap32(v);
    int32_t r;
    std::memcpy(&r, &v, 4);
    return r;
  }
  float F(int word) const {
    uint32_t v;
    std::memcpy(&v, bytes + 4 * word, 4);
    if (swapped) v = Swap32(v);
    float r;
    std::memcpy(&r, &v, 4);
    return r;
  }
};

[[noreturn]] void Fail(const std::string& path, const std::string& what) {
  throw IoError(path + ": not a valid MRC file: " + what);
}

int BytesTimes2ForMode(int mode) {
  switch (mode) {
    case 0:
      return 2;
    case 1:
      return 4;
    case 2:
      return 8;
    case 6:
      return 4;
    case 12:
      return 4;
    case 101:
      return 1;
    default:
      return 0;
  }
}

}  // namespace

double MrcHeader::PixelSize() const {
  if (mx > 0 && cella[0] > 0) return cella[0] / mx;
  return 0;
}

int MrcHeader::BytesPerPixelTimes2() const { return BytesTimes2ForMode(mode); }

std::size_t MrcHeader::DataBytes() const {
  if (mode == 101) return (static_cast<std::size_t>(nx + 1) / 2) * ny * nz;
  return static_cast<std::size_t>(nx) * ny * nz * BytesPerPixelTimes2() / 2;
}

MrcHeader ReadMrcHeader(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw IoError(path + ": no such file");
  const auto file_size = std::filesystem::file_size(path, ec);
  if (ec) throw IoError(path + ": cannot read file size: " + ec.message());
  if (file_size < 1024)
    Fail(path, "file has " + std::to_string(file_size) + " bytes, shorter than the 1024-byte header");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open for reading");
  RawHeader raw;
  in.read(reinterpret_cast<char*>(raw.bytes), 1024);
  if (!in) Fail(path, "cannot read the header");
  // Byte order: machine stamp (0x44 0x44/0x41 little endian, 0x11 0x11 big), else guess from mode.
  const unsigned char s0 = raw.bytes[212];
  if (s0 == 0x11) {
    raw.swapped = true;
  } else if (s0 != 0x44) {
    // Old files without a stamp: pick the order that gives a sane mode.
    const int m = raw.I(3);
    if (BytesTimes2ForMode(m) == 0) {
      raw.swapped = true;
      if (BytesTimes2ForMode(raw.I(3)) == 0) raw.swapped = false;
    }
  }
  MrcHeader h;
  h.swapped = raw.swapped;
  h.nx = raw.I(0);
  h.ny = raw.I(1);
  h.nz = raw.I(2);
  h.mode = raw.I(3);
  h.nxstart = raw.I(4);
  h.nystart = raw.I(5);
  h.nzstart = raw.I(6);
  h.mx = raw.I(7);
  h.my = raw.I(8);
  h.mz = raw.I(9);
  for (int i = 0; i < 3; ++i) {
    h.cella[i] = raw.F(10 + i);
    h.cellb[i] = raw.F(13 + i);
  }
  h.mapc = raw.I(16);
  h.mapr = raw.I(17);
  h.maps = raw.I(18);
  h.dmin = raw.F(19);
  h.dmax = raw.F(20);
  h.dmean = raw.F(21);
  h.ispg = raw.I(22);
  h.nsymbt = raw.I(23);
  h.exttyp.assign(reinterpret_cast<const char*>(raw.bytes + 104), 4);
  h.nversion = raw.I(27);
  for (int i = 0; i < 3; ++i) h.origin[i] = raw.F(49 + i);
  h.rms = raw.F(54);
  h.nlabl = raw.I(55);
  for (int i = 0; i < 10; ++i) {
    std::string label(reinterpret_cast<const char*>(raw.bytes + 224 + 80 * i), 80);
    label = label.substr(0, label.find('\0'));
    while (!label.empty() && label.back() == ' ') label.pop_back();
    h.labels[i] = label;
  }
  if (h.nx <= 0 || h.ny <= 0 || h.nz <= 0)
    Fail(path, "dimensions nx=" + std::to_string(h.nx) + " ny=" + std::to_string(h.ny) + " nz=" + std::to_string(h.nz) +
                   " must be positive");
  if (BytesTimes2ForMode(h.mode) == 0)
    Fail(path, "unsupported mode " + std::to_string(h.mode) + " (supported: 0, 1, 2, 6, 12, 101)");
  if (h.nsymbt < 0) Fail(path, "negative extended header size nsymbt=" + std::to_string(h.nsymbt));
  // Product in floating point: three 31-bit sizes can overflow 64 bits.
  const long double elements = static_cast<long double>(h.nx) * h.ny * h.nz;
  if (elements > static_cast<long double>(kMaxElements))
    Fail(path, "absurd dimensions " + std::to_string(h.nx) + "x" + std::to_string(h.ny) + "x" + std::to_string(h.nz));
  if (h.mapc != 1 || h.mapr != 2 || h.maps != 3) {
    // Permuted axes are legal MRC but unused in EM data; refuse rather than misread.
    if (!(h.mapc == 0 && h.mapr == 0 && h.maps == 0))
      Fail(path, "axis order mapc/mapr/maps = " + std::to_string(h.mapc) + "/" + std::to_string(h.mapr) + "/" +
                     std::to_string(h.maps) + " is not 1/2/3");
  }
  const std::size_t need = h.DataOffset() + h.DataBytes();
  if (need > file_size)
    Fail(path, "truncated: header says " + std::to_string(h.nx) + "x" + std::to_string(h.ny) + "x" +
                   std::to_string(h.nz) + " mode " + std::to_string(h.mode) + " (" + std::to_string(need) +
                   " bytes with header) but the file has " + std::to_string(file_size) + " bytes");
  if (need < file_size) {
    // MRC2014 has no trailer: extra bytes mean the header does not describe the data (a wrong
    // mode or size), and reading on would give garbage pixels.
    std::string hint;
    const std::size_t pixels = static_cast<std::size_t>(h.nx) * h.ny * h.nz;
    const std::size_t data = file_size - h.DataOffset();
    if (h.mode != 101 && pixels > 0 && data % pixels == 0)
      for (int m : {0, 1, 2, 12})
        if (m != h.mode && static_cast<std::size_t>(BytesTimes2ForMode(m) / 2) == data / pixels) {
          hint = "; the data would fit mode " + std::to_string(m) + " (" + std::to_string(data / pixels) +
                 " bytes per pixel)";
          break;
        }
    Fail(path, "file is longer than its header says: " + std::to_string(h.nx) + "x" + std::to_string(h.ny) + "x" +
                   std::to_string(h.nz) + " mode " + std::to_string(h.mode) + " needs " + std::to_string(need) +
                   " bytes with header but the file has " + std::to_string(file_size) + hint);
  }
  return h;
}

namespace {

void Convert(const MrcHeader& h, const unsigned char* src, std::size_t n, float* dst) {
  switch (h.mode) {
    case 0:
      for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(static_cast<int8_t>(src[i]));
      break;
    case 1:
      for (std::size_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, src + 2 * i, 2);
        if (h.swapped) v = static_cast<uint16_t>((v >> 8) | (v << 8));
        int16_t s;
        std::memcpy(&s, &v, 2);
        dst[i] = s;
      }
      break;
    case 2:
      for (std::size_t i = 0; i < n; ++i) {
        uint32_t v;
        std::memcpy(&v, src + 4 * i, 4);
        if (h.swapped) v = Swap32(v);
        std::memcpy(dst + i, &v, 4);
      }
      break;
    case 6:
      for (std::size_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, src + 2 * i, 2);
        if (h.swapped) v = static_cast<uint16_t>((v >> 8) | (v << 8));
        dst[i] = v;
      }
      break;
    case 12:
      for (std::size_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, src + 2 * i, 2);
        if (h.swapped) v = static_cast<uint16_t>((v >> 8) | (v << 8));
        dst[i] = HalfToFloat(v);
      }
      break;
    default:
      throw InternalError("Convert: unexpected mode");
  }
}

// Reads `sections` sections starting at `first` into out (nx x ny x sections).
void ReadSections(const std::string& path, const MrcHeader& h, int first, int sections, Image* out) {
  out->Resize(h.nx, h.ny, sections);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open for reading");
  const std::size_t per_section = static_cast<std::size_t>(h.nx) * h.ny;
  if (h.mode == 101) {
    // 4-bit packed, two pixels per byte, each row padded to a whole byte.
    const std::size_t row_bytes = (h.nx + 1) / 2;
    std::vector<unsigned char> buf(row_bytes * h.ny);
    for (int s = 0; s < sections; ++s) {
      in.seekg(static_cast<std::streamoff>(h.DataOffset() + (first + s) * buf.size()));
      in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(buf.size()));
      if (!in) throw IoError(path + ": read failed in section " + std::to_string(first + s));
      for (int y = 0; y < h.ny; ++y)
        for (int x = 0; x < h.nx; ++x) {
          const unsigned char b = buf[y * row_bytes + x / 2];
          (*out)(x, y, s) = static_cast<float>((x % 2 == 0) ? (b & 0x0f) : (b >> 4));
        }
    }
    return;
  }
  const std::size_t bytes_per_pixel = h.BytesPerPixelTimes2() / 2;
  const std::size_t section_bytes = per_section * bytes_per_pixel;
  in.seekg(static_cast<std::streamoff>(h.DataOffset() + static_cast<std::size_t>(first) * section_bytes));
  if (h.mode == 2 && !h.swapped) {
    // Native floats: straight into the image (a 4096² micrograph is read in one call, no copy).
    in.read(reinterpret_cast<char*>(out->data()), static_cast<std::streamsize>(section_bytes * sections));
    if (!in)
      throw IoError(path + ": read failed in section " +
                    std::to_string(first + static_cast<int>(std::size_t(in.gcount()) / section_bytes)));
    return;
  }
  std::unique_ptr<unsigned char[]> buf(new unsigned char[section_bytes]);  // overwritten by each read
  for (int s = 0; s < sections; ++s) {
    in.read(reinterpret_cast<char*>(buf.get()), static_cast<std::streamsize>(section_bytes));
    if (!in) throw IoError(path + ": read failed in section " + std::to_string(first + s));
    Convert(h, buf.get(), per_section, out->data() + per_section * s);
  }
}

}  // namespace

Image ReadMrc(const std::string& path, MrcHeader* header) {
  MrcHeader h = ReadMrcHeader(path);
  Image out;
  ReadSections(path, h, 0, h.nz, &out);
  if (header) *header = h;
  return out;
}

std::size_t CountNonFinite(const Image& img, long* first) {
  std::size_t bad = 0;
  if (first) *first = -1;
  for (std::size_t i = 0; i < img.size(); ++i)
    if (!std::isfinite(img[i])) {
      if (bad++ == 0 && first) *first = static_cast<long>(i);
    }
  return bad;
}

Image ReadMrcFinite(const std::string& path, const std::string& what, MrcHeader* header) {
  Image out = ReadMrc(path, header);
  long first = -1;
  if (const std::size_t bad = CountNonFinite(out, &first)) {
    const long plane = static_cast<long>(out.nx()) * out.ny();
    throw InvalidInputError(path + " (" + what + "): " + std::to_string(bad) +
                            " NaN/Inf value(s), the first at x=" + std::to_string(first % out.nx()) +
                            " y=" + std::to_string(first % plane / out.nx()) + " z=" + std::to_string(first / plane));
  }
  return out;
}

Image ReadMrcSection(const std::string& path, int section, const MrcHeader* known) {
  MrcHeader h = known ? *known : ReadMrcHeader(path);
  if (section < 0 || section >= h.nz)
    throw IoError(path + ": section " + std::to_string(section + 1) + " requested but the stack has " +
                  std::to_string(h.nz));
  Image out;
  ReadSections(path, h, section, 1, &out);
  return out;
}

float HalfToFloat(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal
      exp = 127 - 15 + 1;
      while (!(mant & 0x400)) {
        mant <<= 1;
        --exp;
      }
      mant &= 0x3ff;
      bits = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t FloatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const int exp = static_cast<int>((x >> 23) & 0xff) - 127 + 15;
  uint32_t mant = x & 0x7fffff;
  if (((x >> 23) & 0xff) == 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);  // inf/nan
  if (exp >= 31) return sign | 0x7c00;
  if (exp <= 0) {
    if (exp < -10) return sign;
    mant |= 0x800000;
    const int shift = 14 - exp;
    uint16_t h = static_cast<uint16_t>(mant >> shift);
    if ((mant >> (shift - 1)) & 1) ++h;  // round half up
    return sign | h;
  }
  uint16_t h = static_cast<uint16_t>(sign | (exp << 10) | (mant >> 13));
  if (mant & 0x1000) ++h;  // round to nearest
  return h;
}

namespace {

void FillHeader(unsigned char* b, int nx, int ny, int nz, const MrcWriteOptions& opt, double dmin, double dmax,
                double dmean, double rms) {
  std::memset(b, 0, 1024);
  auto put_i = [&](int word, int32_t v) { std::memcpy(b + 4 * word, &v, 4); };
  auto put_f = [&](int word, float v) { std::memcpy(b + 4 * word, &v, 4); };
  const bool volume = opt.kind == MrcKind::kVolume;
  put_i(0, nx);
  put_i(1, ny);
  put_i(2, nz);
  put_i(3, opt.mode);
  put_i(7, nx);
  put_i(8, ny);
  put_i(9, volume ? nz : 1);
  put_f(10, static_cast<float>(opt.pixel_size * nx));
  put_f(11, static_cast<float>(opt.pixel_size * ny));
  put_f(12, static_cast<float>(opt.pixel_size * (volume ? nz : 1)));
  put_f(13, 90);
  put_f(14, 90);
  put_f(15, 90);
  put_i(16, 1);
  put_i(17, 2);
  put_i(18, 3);
  put_f(19, static_cast<float>(dmin));
  put_f(20, static_cast<float>(dmax));
  put_f(21, static_cast<float>(dmean));
  put_i(22, volume ? 1 : 0);
  put_i(23, 0);
  std::memcpy(b + 104, "MRCO", 4);
  put_i(27, 20140);
  for (int i = 0; i < 3; ++i) put_f(49 + i, opt.origin[i]);
  std::memcpy(b + 208, "MAP ", 4);
  b[212] = 0x44;
  b[213] = 0x44;
  put_f(54, static_cast<float>(rms));
  put_i(55, 1);
  std::string label = opt.label.substr(0, 80);
  std::memcpy(b + 224, label.data(), label.size());
  std::memset(b + 224 + label.size(), ' ', 80 - label.size());
}

void WriteData(std::FILE* f, const float* data, std::size_t n, int mode, const std::string& path) {
  if (mode == 2) {
    if (std::fwrite(data, 4, n, f) != n) throw IoError(path + ": write failed (disk full?)");
  } else {
    std::vector<uint16_t> h(n);
    for (std::size_t i = 0; i < n; ++i) h[i] = FloatToHalf(data[i]);
    if (std::fwrite(h.data(), 2, n, f) != n) throw IoError(path + ": write failed (disk full?)");
  }
}

void CheckWriteOptions(const std::string& path, const MrcWriteOptions& opt) {
  if (opt.mode != 2 && opt.mode != 12)
    throw InvalidInputError(path + ": MRC output mode must be 2 or 12, not " + std::to_string(opt.mode));
  if (!(opt.pixel_size > 0)) throw InvalidInputError(path + ": pixel size must be positive");
}

}  // namespace

// Values as they will be stored (float16 rounds), so the header statistics match the data.
Image AsStored(const Image& data, int mode) {
  if (mode != 12) return data;
  Image r = data;
  for (auto& v : r) v = HalfToFloat(FloatToHalf(v));
  return r;
}

void WriteMrc(const std::string& path, const Image& data_in, const MrcWriteOptions& opt) {
  CheckWriteOptions(path, opt);
  if (data_in.empty()) throw InvalidInputError(path + ": refusing to write an empty image");
  const Image data = AsStored(data_in, opt.mode);
  Stats s = ComputeStats(data);
  if (s.nan_count) throw InvalidInputError(path + ": image has " + std::to_string(s.nan_count) + " NaN/Inf values");
  WriteAtomically(path, [&](const std::string& tmp) {
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) throw IoError(path + ": cannot open for writing");
    unsigned char header[1024];
    FillHeader(header, data.nx(), data.ny(), data.nz(), opt, s.min, s.max, s.mean, s.stddev);
    bool ok = std::fwrite(header, 1, 1024, f) == 1024;
    try {
      if (ok) WriteData(f, data.data(), data.size(), opt.mode, path);
    } catch (...) {
      std::fclose(f);
      throw;
    }
    ok = (std::fclose(f) == 0) && ok;
    if (!ok) throw IoError(path + ": write failed");
  });
}

void WriteMrcStack(const std::string& path, const ImageStack& images, const MrcWriteOptions& opt) {
  if (images.empty()) throw InvalidInputError(path + ": refusing to write an empty stack");
  MrcStackWriter w(path, images[0].nx(), images[0].ny(), opt);
  for (const auto& im : images) w.Append(im);
  w.Close();
}

MrcStackWriter::MrcStackWriter(const std::string& path, int nx, int ny, const MrcWriteOptions& opt)
    : path_(path), opt_(opt), nx_(nx), ny_(ny) {
  CheckWriteOptions(path, opt);
  opt_.kind = MrcKind::kStack;
  static std::atomic<int> counter{0};
  tmp_ = path + ".tmp." + std::to_string(getpid()) + "." + std::to_string(counter++);
  std::FILE* f = std::fopen(tmp_.c_str(), "wb");
  if (!f) throw IoError(path + ": cannot open for writing");
  file_ = f;
  RegisterTempFile(tmp_);
  unsigned char header[1024] = {0};
  if (std::fwrite(header, 1, 1024, f) != 1024) throw IoError(path + ": write failed");
  min_ = std::numeric_limits<double>::infinity();
  max_ = -min_;
}

MrcStackWriter::~MrcStackWriter() {
  if (file_) {  // not closed: an error happened; leave nothing behind
    std::fclose(static_cast<std::FILE*>(file_));
    std::remove(tmp_.c_str());
    UnregisterTempFile(tmp_);
  }
}

void MrcStackWriter::Append(const Image& image_in) {
  const Image image = AsStored(image_in, opt_.mode);
  if (!file_) throw InternalError(path_ + ": append after close");
  if (image.nx() != nx_ || image.ny() != ny_ || image.nz() != 1)
    throw InvalidInputError(path_ + ": stack image " + std::to_string(count_ + 1) + " has size " +
                            std::to_string(image.nx()) + "x" + std::to_string(image.ny()) + ", expected " +
                            std::to_string(nx_) + "x" + std::to_string(ny_));
  for (float v : image) {
    if (!std::isfinite(v))
      throw InvalidInputError(path_ + ": stack image " + std::to_string(count_ + 1) + " has NaN/Inf");
    sum_ += v;
    sum2_ += double(v) * v;
    min_ = std::min<double>(min_, v);
    max_ = std::max<double>(max_, v);
  }
  WriteData(static_cast<std::FILE*>(file_), image.data(), image.size(), opt_.mode, path_);
  ++count_;
}

void MrcStackWriter::Close() {
  if (!file_) return;
  std::FILE* f = static_cast<std::FILE*>(file_);
  if (count_ == 0) throw InvalidInputError(path_ + ": refusing to write an empty stack");
  const double n = double(count_) * nx_ * ny_;
  const double mean = sum_ / n;
  const double sd = std::sqrt(std::max(0.0, sum2_ / n - mean * mean));
  unsigned char header[1024];
  FillHeader(header, nx_, ny_, count_, opt_, min_, max_, mean, sd);
  bool ok = std::fseek(f, 0, SEEK_SET) == 0 && std::fwrite(header, 1, 1024, f) == 1024;
  ok = (std::fclose(f) == 0) && ok;
  file_ = nullptr;
  if (!ok) {
    std::remove(tmp_.c_str());
    UnregisterTempFile(tmp_);
    throw IoError(path_ + ": write failed");
  }
  std::error_code ec;
  std::filesystem::rename(tmp_, path_, ec);
  UnregisterTempFile(tmp_);
  if (ec) {
    std::remove(tmp_.c_str());
    throw IoError(path_ + ": cannot rename into place: " + ec.message());
  }
  NoteOutputFile(path_);
}

}  // namespace emkit
