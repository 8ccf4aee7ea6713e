// Torch-free interface to LibTorch's device and thread settings.
#pragma once

#include <string>

namespace emkit {

struct DeviceSpec {
  bool cuda = false;
  int index = 0;
  std::string ToString() const { return cuda ? "cuda:" + std::to_string(index) : "cpu"; }
};

// Parses "cpu", "cuda", "cuda:N". A CUDA device is checked against what LibTorch was built
// with and what the machine has; a clear InvalidInputError says why it cannot be used.
DeviceSpec ParseDevice(const std::string& text);

// Sets torch's intra-op and inter-op thread counts (torch starts with 1 thread here).
void SetTorchThreads(int threads);

// "LibTorch 1.13.1, oneDNN yes, CUDA no (0 devices)".
std::string TorchSummary();

}  // namespace emkit
