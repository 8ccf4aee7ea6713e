// Counter-based random numbers (Philox4x32-10): the value drawn for (seed, stream, counter)
// is a pure function of those three, so results do not depend on which thread draws them
// or in which order. Give each independent task (particle, micrograph) its own stream.
#pragma once

#include <array>
#include <cstdint>

namespace emkit {

std::array<uint32_t, 4> Philox4x32(std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key);

class Rng {
 public:
  Rng(uint64_t seed, uint64_t stream) : seed_(seed), stream_(stream) {}

  uint32_t NextU32();
  uint64_t NextU64() { return (uint64_t(NextU32()) << 32) | NextU32(); }
  double Uniform();  // [0, 1)
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  double Normal();  // standard normal (Box-Muller)
  double Normal(double mean, double sd) { return mean + sd * Normal(); }
  int UniformInt(int lo, int hi_inclusive);
  uint64_t counter() const { return counter_; }

 private:
  uint64_t seed_, stream_;
  uint64_t counter_ = 0;
  std::array<uint32_t, 4> buffer_{};
  int used_ = 4;
  bool has_spare_ = false;
  double spare_ = 0;
};

// Derives independent stream ids for named purposes (e.g. StreamId("noise", i)).
uint64_t StreamId(const char* purpose, uint64_t index);

}  // namespace emkit
