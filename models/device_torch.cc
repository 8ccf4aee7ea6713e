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
  if (text.size() > 5) {
    try {
      d.index = std::stoi(text.substr(5));
    } catch (...) {
      throw InvalidInputError("--device '" + text + "': bad device number");
    }
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

std::string TorchSummary() {
  return std::string("LibTorch ") + TORCH_VERSION + ", oneDNN " + (at::hasMKLDNN() ? "yes" : "no") + ", CUDA " +
         (torch::cuda::is_available() ? "yes (" + std::to_string(torch::cuda::device_count()) + " devices)" : "no") +
         ", " + std::to_string(torch::get_num_threads()) + " threads";
}

}  // namespace emkit
