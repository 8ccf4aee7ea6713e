#include "core/random.h"

#include <cmath>

namespace emkit {

std::array<uint32_t, 4> Philox4x32(std::array<uint32_t, 4> c, std::array<uint32_t, 2> k) {
  constexpr uint32_t kM0 = 0xD2511F53, kM1 = 0xCD9E8D57, kW0 = 0x9E3779B9, kW1 = 0xBB67AE85;
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = uint64_t(kM0) * c[0], p1 = uint64_t(kM1) * c[2];
    c = {uint32_t(p1 >> 32) ^ c[1] ^ k[0], uint32_t(p1), uint32_t(p0 >> 32) ^ c[3] ^ k[1], uint32_t(p0)};
    k[0] += kW0;
    k[1] += kW1;
  }
  return c;
}

uint32_t Rng::NextU32() {
  if (used_ == 4) {
    buffer_ = Philox4x32({uint32_t(counter_), uint32_t(counter_ >> 32), uint32_t(stream_), uint32_t(stream_ >> 32)},
                         {uint32_t(seed_), uint32_t(seed_ >> 32)});
    ++counter_;
    used_ = 0;
  }
  return buffer_[used_++];
}

double Rng::Uniform() { return (NextU64() >> 11) * (1.0 / 9007199254740992.0); }

double Rng::Normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u1 = Uniform();
  while (u1 <= 0) u1 = Uniform();
  const double u2 = Uniform();
  const double r = std::sqrt(-2.0 * std::log(u1));
  spare_ = r * std::sin(2 * M_PI * u2);
  has_spare_ = true;
  return r * std::cos(2 * M_PI * u2);
}

int Rng::UniformInt(int lo, int hi) {
  const uint64_t span = uint64_t(int64_t(hi) - lo + 1);
  return lo + static_cast<int>(NextU64() % span);
}

uint64_t StreamId(const char* purpose, uint64_t index) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a of the purpose
  for (const char* p = purpose; *p; ++p) h = (h ^ uint8_t(*p)) * 1099511628211ull;
  return (h << 24) ^ index;
}

}  // namespace emkit
