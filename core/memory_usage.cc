#include "core/memory_usage.h"

#include <sys/resource.h>

namespace emkit {

double PeakMemoryMb() {
  rusage u{};
  if (getrusage(RUSAGE_SELF, &u) != 0) return 0;
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // Linux: KiB
}

}  // namespace emkit
