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

// Keeps freed large blocks in the heap for reuse. glibc hands blocks above its mmap threshold
// (at most 32 MB) and emptied worker-thread heaps back to the kernel, so CNN activations
// (32 channels x 724^2 floats = 67 MB; a training batch of 16 x 32 x 128^2 = 34 MB) and FFT
// buffers were mapped afresh and page-faulted in on every layer: `emkit pick --method cnn` spent
// 2/3 of its time in the kernel (benchmarks/results/cnn/ADDENDA.md). Process-wide; call it
// before the first worker thread starts (pick and train do). The same sizes recur for every
// micrograph or step, so memory is reused rather than grown.
void KeepLargeAllocationsInHeap();

// "LibTorch 1.13.1, oneDNN yes, CUDA no (0 devices)".
std::string TorchSummary();

}  // namespace emkit
