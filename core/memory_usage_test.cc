#include "core/memory_usage.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <vector>

namespace emkit {
namespace {

TEST(PeakMemory, GrowsWithWhatIsTouched) {
  const double before = PeakMemoryMb();
  EXPECT_GT(before, 1.0);  // a running test binary holds more than a megabyte
  // More than the peak so far, every page written: the resident set passes the old peak.
  std::vector<char> block(static_cast<std::size_t>(before + 64) << 20, 1);
  volatile char sink = block[block.size() / 2];
  (void)sink;
  EXPECT_GE(PeakMemoryMb(), before + 64);
}

}  // namespace
}  // namespace emkit
