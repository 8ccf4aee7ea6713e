#include "io/mrc.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "core/error.h"
#include "core/random.h"
#include "tests/testing.h"

namespace emkit {

static Image RandomImage(int nx, int ny, int nz, uint64_t seed) {
  Image img(nx, ny, nz);
  Rng r(seed, 0);
  for (auto& v : img) v = static_cast<float>(r.Normal());
  return img;
}

TEST(Mrc, RoundTripVolumeWithPixelSize) {
  const std::string dir = testing::FreshDir("mrc");
  Image vol = RandomImage(12, 10, 8, 1);
  MrcWriteOptions opt;
  opt.pixel_size = 1.7;
  opt.kind = MrcKind::kVolume;
  WriteMrc(dir + "/v.mrc", vol, opt);
  MrcHeader h;
  Image back = ReadMrc(dir + "/v.mrc", &h);
  EXPECT_EQ(h.nx, 12);
  EXPECT_EQ(h.ny, 10);
  EXPECT_EQ(h.nz, 8);
  EXPECT_EQ(h.ispg, 1);
  EXPECT_EQ(h.nversion, 20140);
  EXPECT_NEAR(h.PixelSize(), 1.7, 1e-6);
  for (std::size_t i = 0; i < vol.size(); ++i) ASSERT_EQ(back[i], vol[i]);
}

TEST(Mrc, StackSectionsAndStreamingWriter) {
  const std::string dir = testing::FreshDir("mrc");
  ImageStack stack;
  for (int i = 0; i < 5; ++i) stack.push_back(RandomImage(16, 16, 1, 10 + i));
  WriteMrcStack(dir + "/s.mrcs", stack, {2.5, MrcKind::kStack});
  MrcHeader h = ReadMrcHeader(dir + "/s.mrcs");
  EXPECT_EQ(h.nz, 5);
  EXPECT_EQ(h.ispg, 0);
  EXPECT_EQ(h.mz, 1);
  EXPECT_NEAR(h.PixelSize(), 2.5, 1e-6);
  Image third = ReadMrcSection(dir + "/s.mrcs", 3, &h);
  for (std::size_t i = 0; i < third.size(); ++i) ASSERT_EQ(third[i], stack[3][i]);
  EXPECT_THROW(ReadMrcSection(dir + "/s.mrcs", 5), IoError);
  {
    MrcStackWriter w(dir + "/abandoned.mrcs", 16, 16);
    w.Append(stack[0]);
  }  // not closed: nothing must remain
  for (auto& e : std::filesystem::directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().find("abandoned"), std::string::npos) << e.path();
}

TEST(Mrc, Float16RoundTrip) {
  const std::string dir = testing::FreshDir("mrc");
  Image img = RandomImage(8, 8, 1, 3);
  MrcWriteOptions opt;
  opt.mode = 12;
  WriteMrc(dir + "/h.mrc", img, opt);
  MrcHeader h;
  Image back = ReadMrc(dir + "/h.mrc", &h);
  EXPECT_EQ(h.mode, 12);
  for (std::size_t i = 0; i < img.size(); ++i) ASSERT_NEAR(back[i], img[i], 2e-3 * std::max(1.f, std::fabs(img[i])));
  EXPECT_EQ(HalfToFloat(FloatToHalf(1.0f)), 1.0f);
  EXPECT_EQ(HalfToFloat(FloatToHalf(-2.5f)), -2.5f);
  EXPECT_EQ(HalfToFloat(0x3c00), 1.0f);
}

// Writes a raw MRC with the given header words and payload.
static void WriteRaw(const std::string& path, int nx, int ny, int nz, int mode, int nsymbt, const std::string& payload,
                     bool big_endian = false, bool write_extended = true) {
  unsigned char h[1024] = {0};
  auto put = [&](int word, int32_t v) {
    if (big_endian) v = static_cast<int32_t>(__builtin_bswap32(static_cast<uint32_t>(v)));
    std::memcpy(h + 4 * word, &v, 4);
  };
  put(0, nx);
  put(1, ny);
  put(2, nz);
  put(3, mode);
  put(16, 1);
  put(17, 2);
  put(18, 3);
  put(23, nsymbt);
  h[212] = big_endian ? 0x11 : 0x44;
  h[213] = big_endian ? 0x11 : 0x41;
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<char*>(h), 1024);
  if (write_extended) out << std::string(nsymbt, 'E');
  out << payload;
}

TEST(Mrc, ReadsIntegerModesAndSkipsExtendedHeader) {
  const std::string dir = testing::FreshDir("mrc");
  std::string p8 = {char(-3), 5, 127, char(-128)};
  WriteRaw(dir + "/m0.mrc", 2, 2, 1, 0, 96, p8);
  Image a = ReadMrc(dir + "/m0.mrc");
  EXPECT_FLOAT_EQ(a(0, 0), -3);
  EXPECT_FLOAT_EQ(a(1, 1), -128);
  int16_t s16[2] = {-300, 1200};
  WriteRaw(dir + "/m1.mrc", 2, 1, 1, 1, 0, std::string(reinterpret_cast<char*>(s16), 4));
  EXPECT_FLOAT_EQ(ReadMrc(dir + "/m1.mrc")(0, 0), -300);
  uint16_t u16[2] = {65535, 7};
  WriteRaw(dir + "/m6.mrc", 2, 1, 1, 6, 0, std::string(reinterpret_cast<char*>(u16), 4));
  EXPECT_FLOAT_EQ(ReadMrc(dir + "/m6.mrc")(0, 0), 65535);
  // Mode 101: 4-bit packed, low nibble first, rows padded to whole bytes (3 px -> 2 bytes).
  std::string p4 = {char(0x21), char(0x03), char(0x54), char(0x06)};
  WriteRaw(dir + "/m101.mrc", 3, 2, 1, 101, 0, p4);
  Image q = ReadMrc(dir + "/m101.mrc");
  EXPECT_FLOAT_EQ(q(0, 0), 1);
  EXPECT_FLOAT_EQ(q(1, 0), 2);
  EXPECT_FLOAT_EQ(q(2, 0), 3);
  EXPECT_FLOAT_EQ(q(0, 1), 4);
  EXPECT_FLOAT_EQ(q(2, 1), 6);
  // Big-endian float file.
  float f = 3.25f;
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  bits = __builtin_bswap32(bits);
  WriteRaw(dir + "/be.mrc", 1, 1, 1, 2, 0, std::string(reinterpret_cast<char*>(&bits), 4), true);
  EXPECT_FLOAT_EQ(ReadMrc(dir + "/be.mrc")(0, 0), 3.25f);
}

static std::string ErrorOf(const std::string& path) {
  try {
    ReadMrc(path);
  } catch (const IoError& e) {
    return e.what();
  }
  return "";
}

TEST(Mrc, RejectsBrokenFilesClearly) {
  const std::string dir = testing::FreshDir("mrc");
  WriteRaw(dir + "/trunc.mrc", 64, 64, 1, 2, 0, std::string(1000, '\0'));
  EXPECT_NE(ErrorOf(dir + "/trunc.mrc").find("truncated"), std::string::npos);
  EXPECT_NE(ErrorOf(dir + "/trunc.mrc").find("trunc.mrc"), std::string::npos);
  WriteRaw(dir + "/huge.mrc", 1 << 20, 1 << 20, 1 << 20, 2, 0, "");
  EXPECT_NE(ErrorOf(dir + "/huge.mrc").find("absurd"), std::string::npos);
  WriteRaw(dir + "/mode.mrc", 2, 2, 1, 7, 0, std::string(64, '\0'));
  EXPECT_NE(ErrorOf(dir + "/mode.mrc").find("mode 7"), std::string::npos);
  WriteRaw(dir + "/neg.mrc", -2, 2, 1, 2, 0, std::string(64, '\0'));
  EXPECT_NE(ErrorOf(dir + "/neg.mrc").find("positive"), std::string::npos);
  WriteRaw(dir + "/ext.mrc", 2, 2, 1, 2, 1 << 30, std::string(16, '\0'), false, false);
  EXPECT_NE(ErrorOf(dir + "/ext.mrc").find("truncated"), std::string::npos);
  std::ofstream(dir + "/short.mrc") << "tiny";
  EXPECT_NE(ErrorOf(dir + "/short.mrc").find("shorter than"), std::string::npos);
  EXPECT_NE(ErrorOf(dir + "/missing.mrc").find("no such file"), std::string::npos);
}

TEST(Mrc, RefusesAModeThatDisagreesWithTheFileSize) {
  const std::string dir = testing::FreshDir("mrc");
  // Float data (4 bytes per pixel) under a header saying mode 1 (int16): twice the bytes.
  WriteRaw(dir + "/mode1.mrc", 8, 8, 1, 1, 0, std::string(8 * 8 * 4, '\0'));
  const std::string e = ErrorOf(dir + "/mode1.mrc");
  EXPECT_NE(e.find("mode1.mrc"), std::string::npos) << e;
  EXPECT_NE(e.find("longer than its header"), std::string::npos) << e;
  EXPECT_NE(e.find("mode 2"), std::string::npos) << e;  // the mode that would fit
  EXPECT_THROW(ReadMrcHeader(dir + "/mode1.mrc"), IoError);
  // Exactly header + extended header + data is read.
  WriteRaw(dir + "/ok.mrc", 8, 8, 1, 1, 0, std::string(8 * 8 * 2, '\0'));
  EXPECT_EQ(ReadMrc(dir + "/ok.mrc").nx(), 8);
  WriteRaw(dir + "/one_more.mrc", 8, 8, 1, 2, 0, std::string(8 * 8 * 4 + 1, '\0'));
  EXPECT_NE(ErrorOf(dir + "/one_more.mrc").find("longer than its header"), std::string::npos);
}

TEST(Mrc, ReadMrcFiniteNamesTheFileAndTheVoxel) {
  const std::string dir = testing::FreshDir("mrc");
  Image v(4, 4, 4);
  v(1, 2, 3) = std::numeric_limits<float>::infinity();
  // WriteMrc refuses NaN/Inf: write the raw bytes.
  WriteRaw(dir + "/inf.mrc", 4, 4, 4, 2, 0,
           std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
  try {
    ReadMrcFinite(dir + "/inf.mrc", "map");
    FAIL();
  } catch (const InvalidInputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("inf.mrc (map): 1 NaN/Inf"), std::string::npos) << m;
    EXPECT_NE(m.find("x=1 y=2 z=3"), std::string::npos) << m;
  }
  EXPECT_EQ(CountNonFinite(ReadMrc(dir + "/inf.mrc")), 1u);
}

TEST(Mrc, RefusesToWriteNaN) {
  const std::string dir = testing::FreshDir("mrc");
  Image img(4, 4);
  img(1, 1) = NAN;
  EXPECT_THROW(WriteMrc(dir + "/nan.mrc", img), InvalidInputError);
  EXPECT_FALSE(std::filesystem::exists(dir + "/nan.mrc"));
}

TEST(Mrc, WrittenFilesPassMrcfileValidate) {
  const char* py = "/usr/bin/python3";
  if (!std::filesystem::exists(py) || std::system("/usr/bin/python3 -c 'import mrcfile' 2>/dev/null") != 0)
    GTEST_SKIP() << "python3-mrcfile not installed";
  const std::string dir = testing::FreshDir("mrc");
  MrcWriteOptions vol;
  vol.kind = MrcKind::kVolume;
  vol.pixel_size = 1.3;
  WriteMrc(dir + "/vol.mrc", RandomImage(16, 16, 16, 5), vol);
  WriteMrc(dir + "/img.mrc", RandomImage(20, 12, 1, 6), {0.9});
  WriteMrcStack(dir + "/stack.mrcs", {RandomImage(8, 8, 1, 7), RandomImage(8, 8, 1, 8)}, {2.0, MrcKind::kStack});
  MrcWriteOptions half;
  half.mode = 12;
  WriteMrc(dir + "/half.mrc", RandomImage(8, 8, 1, 9), half);
  for (const char* f : {"vol.mrc", "img.mrc", "stack.mrcs", "half.mrc"}) {
    const std::string cmd = std::string(py) + " -c \"import mrcfile,sys; sys.exit(0 if mrcfile.validate('" + dir + "/" +
                            f + "') else 1)\" > " + dir + "/validate.log 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << f << " failed mrcfile.validate()";
  }
}

TEST(Mrc, ReadsRealFiles) {
  EMKIT_REQUIRE_SHARED_DATA(data);
  MrcHeader h;
  Image ribo = ReadMrc(data + "/maps/ribosome70s_65.mrc", &h);
  EXPECT_EQ(h.nx, 65);
  EXPECT_EQ(h.nz, 65);
  Image hand = ReadMrc(data + "/maps/hand_64.mrc", &h);
  EXPECT_NEAR(h.PixelSize(), 1.0, 1e-3);
  MrcHeader s = ReadMrcHeader(data + "/star/relion31.mrcs");
  EXPECT_EQ(s.nx, 256);
  EXPECT_EQ(s.nz, 5);
  Image sec = ReadMrcSection(data + "/star/relion31.mrcs", 4, &s);
  EXPECT_EQ(sec.nx(), 256);
}

}  // namespace emkit

namespace emkit {
// Found by the fuzzer: no machine stamp, byte-swapped header whose sizes overflow 64 bits.
TEST(Mrc, OverflowingDimensionsAreAbsurdNotAllocated) {
  const std::string dir = testing::FreshDir("mrc");
  unsigned char h[1032] = {0};
  const int32_t words[4] = {4, 3, 2, 1694498816};
  std::memcpy(h, words, 16);
  { std::ofstream(dir + "/x.mrc", std::ios::binary).write(reinterpret_cast<char*>(h), sizeof h); }
  EXPECT_NE(ErrorOf(dir + "/x.mrc").find("absurd"), std::string::npos) << ErrorOf(dir + "/x.mrc");
}
}  // namespace emkit
