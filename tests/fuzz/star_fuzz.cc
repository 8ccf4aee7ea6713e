// libFuzzer target: arbitrary text as a STAR file must parse or throw emkit::Error; what
// parses must format and parse again to the same tables, and typed reads must not crash.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "io/star.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    emkit::StarFile f = emkit::ParseStar(text, "fuzz.star");
    emkit::StarFile again = emkit::ParseStar(emkit::FormatStar(f), "again.star");
    if (again.blocks.size() != f.blocks.size()) std::abort();
    for (std::size_t b = 0; b < f.blocks.size(); ++b) {
      const auto& t = f.blocks[b];
      if (again.blocks[b].labels() != t.labels() || again.blocks[b].num_rows() != t.num_rows()) std::abort();
      for (std::size_t r = 0; r < t.num_rows(); ++r) {
        if (again.blocks[b].row(r) != t.row(r)) std::abort();
        for (const auto& l : t.labels()) {
          try {
            t.GetDouble(r, l);
          } catch (const emkit::Error&) {
          }
        }
      }
    }
  } catch (const emkit::Error&) {
  }
  return 0;
}
