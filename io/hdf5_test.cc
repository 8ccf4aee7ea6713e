#include "io/hdf5.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "tests/testing.h"

namespace emkit {

TEST(Hdf5, DatasetsAttributesAndRowRanges) {
  const std::string dir = testing::FreshDir("h5");
  std::vector<float> data(10 * 4 * 3);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<float>(i) * 0.5f;
  std::vector<int32_t> labels = {1, 0, 1, 1};
  {
    Hdf5File f = Hdf5File::Create(dir + "/t.h5");
    f.WriteFloats("patches", {10, 4, 3}, data.data());
    f.WriteInts("labels", {4}, labels.data());
    f.SetAttribute("pixel_size", 3.5);
    f.SetAttribute("source", std::string("emkit test"));
    EXPECT_FALSE(std::filesystem::exists(dir + "/t.h5"));  // still under its temporary name
    f.Commit();
  }
  Hdf5File r = Hdf5File::OpenReadOnly(dir + "/t.h5");
  std::vector<uint64_t> dims;
  EXPECT_EQ(r.ReadFloats("patches", &dims), data);
  EXPECT_EQ(dims, (std::vector<uint64_t>{10, 4, 3}));
  EXPECT_EQ(r.ReadInts("labels"), labels);
  auto rows = r.ReadFloatRows("patches", 2, 3);
  ASSERT_EQ(rows.size(), 36u);
  EXPECT_FLOAT_EQ(rows[0], data[24]);
  EXPECT_DOUBLE_EQ(r.GetNumberAttribute("pixel_size"), 3.5);
  EXPECT_EQ(r.GetStringAttribute("source"), "emkit test");
  EXPECT_TRUE(r.HasDataset("labels"));
  EXPECT_FALSE(r.HasDataset("nope"));
  EXPECT_THROW(r.ReadFloats("nope"), IoError);
  EXPECT_THROW(r.ReadFloatRows("patches", 9, 2), IoError);
}

TEST(Hdf5, UncommittedFileLeavesNothing) {
  const std::string dir = testing::FreshDir("h5");
  {
    Hdf5File f = Hdf5File::Create(dir + "/x.h5");
    float v = 1;
    f.WriteFloats("a", {1}, &v);
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir));
  EXPECT_THROW(Hdf5File::OpenReadOnly(dir + "/missing.h5"), IoError);
}

}  // namespace emkit
