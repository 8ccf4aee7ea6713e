// libFuzzer target: arbitrary bytes as an MRC file must give an image or an emkit::Error,
// never a crash, a hang or a huge allocation.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "core/error.h"
#include "io/mrc.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/emkit_fuzz_" + std::to_string(getpid()) + ".mrc";
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    emkit::MrcHeader h = emkit::ReadMrcHeader(path);
    if (h.nz > 0) emkit::ReadMrcSection(path, h.nz - 1, &h);
    emkit::ReadMrc(path);
  } catch (const emkit::Error&) {
  }
  return 0;
}
