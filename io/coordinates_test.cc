#include "io/coordinates.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "core/error.h"
#include "io/micrograph.h"
#include "io/mrc.h"
#include "tests/testing.h"

namespace emkit {

TEST(Coordinates, RoundTripAllFormats) {
  const std::string dir = testing::FreshDir("coords");
  std::vector<Coordinate> c = {{100, 200, 0.5, 1, 30, ""}, {31.5, 40.25, 2.0, 2, 0, ""}};
  for (const char* name : {"a.star", "a.csv", "a.txt", "a.box"}) {
    CoordinateIoOptions opt;
    opt.box_size = 64;
    WriteCoordinates(dir + "/" + name, c, opt);
    auto back = ReadCoordinates(dir + "/" + name, opt);
    ASSERT_EQ(back.size(), 2u) << name;
    EXPECT_NEAR(back[0].x, 100, 0.6) << name;
    EXPECT_NEAR(back[0].y, 200, 0.6) << name;
    if (std::string(name) != "a.box") {
      EXPECT_NEAR(back[1].fom, 2.0, 1e-6) << name;
    }
  }
  auto star = ReadCoordinates(dir + "/a.star");
  EXPECT_EQ(star[1].class_number, 2);
  EXPECT_NEAR(star[0].psi, 30, 1e-9);
}

TEST(Coordinates, EmanBoxIsLowerLeftCorner) {
  const std::string dir = testing::FreshDir("coords");
  std::ofstream(dir + "/m.box") << "10\t20\t100\t100\n";
  auto c = ReadCoordinates(dir + "/m.box");
  EXPECT_DOUBLE_EQ(c[0].x, 60);
  EXPECT_DOUBLE_EQ(c[0].y, 70);
}

TEST(Coordinates, FlipYConvention) {
  const std::string dir = testing::FreshDir("coords");
  std::ofstream(dir + "/m.csv") << "X-Coordinate,Y-Coordinate\n5,0\n5,99\n";
  CoordinateIoOptions opt;
  opt.flip_y = true;
  opt.image_height = 100;
  auto c = ReadCoordinates(dir + "/m.csv", opt);
  EXPECT_DOUBLE_EQ(c[0].y, 99);
  EXPECT_DOUBLE_EQ(c[1].y, 0);
  opt.image_height = 0;
  EXPECT_THROW(ReadCoordinates(dir + "/m.csv", opt), InvalidInputError);
}

TEST(Coordinates, ArrayRowIsY) {
  // A bright pixel at column 7, row 3 of a PNG and of an MRC is the coordinate (7, 3).
  const std::string dir = testing::FreshDir("coords");
  Image img(16, 8);
  img(7, 3) = 100;
  WritePng(dir + "/m.png", img, 0, 100);
  WriteMrc(dir + "/m.mrc", img);
  for (const char* f : {"m.png", "m.mrc"}) {
    Image back = ReadMicrograph(dir + "/" + f);
    int bx = 0, by = 0;
    for (int y = 0; y < back.ny(); ++y)
      for (int x = 0; x < back.nx(); ++x)
        if (back(x, y) > back(bx, by)) bx = x, by = y;
    EXPECT_EQ(bx, 7) << f;
    EXPECT_EQ(by, 3) << f;
  }
}

TEST(Coordinates, BadFilesNameTheLine) {
  const std::string dir = testing::FreshDir("coords");
  std::ofstream(dir + "/bad.csv") << "X-Coordinate,Y-Coordinate\n1,2\n3,abc\n";
  try {
    ReadCoordinates(dir + "/bad.csv");
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.csv:3"), std::string::npos) << e.what();
  }
  std::ofstream(dir + "/bad.txt") << "image_name\tx_coord\ty_coord\nm\t1\n";
  EXPECT_THROW(ReadCoordinates(dir + "/bad.txt"), IoError);
  EXPECT_THROW(ReadCoordinates(dir + "/x.unknown"), InvalidInputError);
}

TEST(Coordinates, RealCryoPPPCsvMatchesLabels) {
  EMKIT_REQUIRE_SHARED_DATA(data);
  const std::string base = data + "/micrographs/empiar10028/test";
  auto c = ReadCoordinates(base + "/coords/311_10028.csv");
  ASSERT_FALSE(c.empty());
  Image labels = ReadMicrograph(base + "/labels/311_10028.png");
  int inside = 0;
  for (const auto& p : c) inside += labels(static_cast<int>(p.x), static_cast<int>(p.y)) > 128;
  EXPECT_EQ(inside, static_cast<int>(c.size()));  // every centre sits on a white label disk
  Image mic = ReadMicrograph(base + "/images/311_10028.png");
  EXPECT_EQ(mic.nx(), 1024);
}

TEST(Micrograph, SixteenBitTiffAndErrors) {
  const std::string dir = testing::FreshDir("mic");
  cv::Mat m(20, 30, CV_16U, cv::Scalar(1000));
  m.at<uint16_t>(5, 7) = 60000;  // row 5, column 7
  ASSERT_TRUE(cv::imwrite(dir + "/m16.tif", m));
  MicrographInfo info;
  Image img = ReadMicrograph(dir + "/m16.tif", &info);
  EXPECT_EQ(info.bit_depth, 16);
  EXPECT_EQ(img.nx(), 30);
  EXPECT_FLOAT_EQ(img(7, 5), 60000.f);
  EXPECT_FLOAT_EQ(img(0, 0), 1000.f);
  cv::Mat rgb(4, 4, CV_8UC3, cv::Scalar(10, 20, 30));
  ASSERT_TRUE(cv::imwrite(dir + "/c.jpg", rgb));
  EXPECT_EQ(ReadMicrograph(dir + "/c.jpg").nx(), 4);
  std::ofstream(dir + "/junk.png") << "not an image";
  EXPECT_THROW(ReadMicrograph(dir + "/junk.png"), IoError);
  EXPECT_THROW(ReadMicrograph(dir + "/none.tif"), IoError);
}

// OpenCV decodes a truncated JPEG or PNG with a warning only: the reader refuses it by name.
TEST(Micrograph, RefusesTruncatedJpegAndPng) {
  const std::string dir = testing::FreshDir("mic");
  cv::Mat m(64, 64, CV_8U);
  cv::randu(m, 0, 255);
  for (const char* ext : {".jpg", ".png"}) {
    const std::string whole = dir + "/whole" + ext, cut = dir + "/cut" + ext;
    ASSERT_TRUE(cv::imwrite(whole, m));
    EXPECT_EQ(ReadMicrograph(whole).nx(), 64) << ext;
    std::ifstream in(whole, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() * 2 / 3);
    try {
      ReadMicrograph(cut);
      FAIL() << ext;
    } catch (const IoError& e) {
      EXPECT_NE(std::string(e.what()).find(cut), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
    }
  }
}

TEST(Micrograph, AFolderIsNotAMicrograph) {
  const std::string dir = testing::FreshDir("mic");
  try {
    ReadMicrograph(dir);
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("folder"), std::string::npos) << e.what();
  }
}

}  // namespace emkit
