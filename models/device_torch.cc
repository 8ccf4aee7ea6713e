#include <malloc.h>
#include <torch/torch.h>

#include <atomic>

#include "core/error.h"
#include "models/device.h"

namespace emkit {

DeviceSpec ParseDevice(const std::string& text) {
  DeviceSpec d;
  if (text == "cpu") return d;
  if (text.compare(0, 4, "cuda") != 0 || (text.size() > 4 && text[4] != ':'))
    throw InvalidInputError("--device '" + text + "': expected cpu, cuda or cuda:N");
  d.cuda = true;
  if (text.size() > 4) {  // "cuda:N": N digits only
    const std::string n = text.substr(5);
    if (n.empty() || n.size() > 3 || n.find_first_not_of("0123456789") != std::string::npos)
      throw InvalidInputError("--device '" + text + "': bad device number (expected cuda:N, N = 0, 1, ...)");
    d.index = std::stoi(n);
  }
  if (!torch::cuda::is_available())
    throw InvalidInputError("--device " + text +
                            ": this emkit's LibTorch has no usable CUDA (built without CUDA, or no GPU/driver); use "
                            "--device cpu");
  if (d.index < 0 || d.index >= static_cast<int>(torch::cuda::device_count()))
    throw InvalidInputError("--device " + text + ": only " + std::to_string(torch::cuda::device_count()) +
                            " CUDA device(s)");
  return d;
}

void SetTorchThreads(int threads) {
  static std::atomic<int> interop_set{0};
  threads = std::max(1, threads);
  torch::set_num_threads(threads);
  // The inter-op pool can be sized only once per process.
  if (interop_set.exchange(1) == 0) {
    try {
      at::set_num_interop_threads(1);
    } catch (...) {
    }
  }
}

void KeepLargeAllocationsInHeap() {
  static std::atomic<int> done{0};
  if (done.exchange(1) != 0) return;
  // No mmap for large blocks (the threshold itself cannot go above 32 MB), no trimming of the
  // heap top below 1 GiB, and one arena: a worker thread's arena lives in 64 MB heaps that glibc
  // unmaps as soon as they empty, which two 30 MB activations do between layers. The arena limit
  // only holds for threads that have not allocated yet, hence "before the first worker thread".
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_ARENA_MAX, 1);
}

std::string TorchSummary() {
  return std::string("LibTorch ") + TORCH_VERSION + ", oneDNN " + (at::hasMKLDNN() ? "yes" : "no") + ", CUDA " +
         (torch::cuda::is_available() ? "yes (" + std::to_string(torch::cuda::device_count()) + " devices)" : "no") +
         ", " + std::to_string(torch::get_num_threads()) + " threads";
}

}  // namespace emkit
