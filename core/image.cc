#include "core/image.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace emkit {

Stats ComputeStats(const float* data, std::size_t n) {
  Stats s;
  double sum = 0, sum2 = 0;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  std::size_t good = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double v = data[i];
    if (!std::isfinite(v)) {
      ++s.nan_count;
      continue;
    }
    ++good;
    sum += v;
    sum2 += v * v;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (good == 0) return s;
  s.min = lo;
  s.max = hi;
  s.mean = sum / good;
  s.rms = std::sqrt(sum2 / good);
  s.stddev = std::sqrt(std::max(0.0, sum2 / good - s.mean * s.mean));
  return s;
}

}  // namespace emkit
