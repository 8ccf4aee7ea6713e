// What this process holds in memory, for the logs of long jobs.
#pragma once

namespace emkit {

// The largest resident set of this process so far (getrusage's ru_maxrss), in MB of 2^20 bytes
// (as the benchmarks report /usr/bin/time's figure).
double PeakMemoryMb();

}  // namespace emkit
