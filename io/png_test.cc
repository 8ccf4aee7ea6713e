#include "io/png.h"

#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>

#include "core/files.h"
#include "tests/testing.h"

namespace emkit {
namespace {

Image Disc(int n, double r) {
  Image img(n, n, 1);
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) img(x, y) = (x - n / 2) * (x - n / 2) + (y - n / 2) * (y - n / 2) < r * r ? 1.f : 0.f;
  return img;
}

TEST(Png, LabelledMontageHasLargeTilesAndCaptions) {
  const std::string dir = testing::FreshDir("png");
  const std::vector<Image> tiles = {Disc(32, 8), Disc(32, 12), Disc(32, 4)};
  WriteLabelledMontage(dir + "/m.png", tiles, {"#1 50.0%\n8.5 A", "#2 30.0%\n9.1 A", "#3 20.0%\n12.0 A"}, 2);
  const cv::Mat m = cv::imread(dir + "/m.png", cv::IMREAD_GRAYSCALE);
  ASSERT_FALSE(m.empty());
  // 32 px tiles enlarged 5x (>= 160 px), 2 per row, 2 rows, each with a 2-line caption band.
  const int cell = 160, gap = 4, band = 2 * 18 + 4;
  EXPECT_EQ(m.cols, 2 * (cell + gap) + gap);
  EXPECT_EQ(m.rows, 2 * (cell + band + gap) + gap);
  // The disc's centre is bright, its corner dark; the caption band holds white text on black.
  EXPECT_GT(m.at<unsigned char>(gap + cell / 2, gap + cell / 2), 200);
  EXPECT_LT(m.at<unsigned char>(gap + 2, gap + 2), 128);
  int white = 0, black = 0;
  for (int y = gap + cell; y < gap + cell + band; ++y)
    for (int x = gap; x < gap + cell; ++x) (m.at<unsigned char>(y, x) == 255 ? white : black) += 1;
  EXPECT_GT(white, 100);
  EXPECT_GT(black, white);
  // Different captions draw different pixels (the glyphs are there).
  WriteLabelledMontage(dir + "/a.png", {Disc(32, 8)}, {"#1"}, 1);
  WriteLabelledMontage(dir + "/b.png", {Disc(32, 8)}, {"#7"}, 1);
  const cv::Mat a = cv::imread(dir + "/a.png", cv::IMREAD_GRAYSCALE),
                b = cv::imread(dir + "/b.png", cv::IMREAD_GRAYSCALE);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_GT(cv::norm(a, b, cv::NORM_L1), 0);
}

}  // namespace
}  // namespace emkit
