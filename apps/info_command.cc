// emkit info FILE...: what is in MRC, STAR and image files; the readers' front door.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "apps/command_line.h"
#include "core/error.h"
#include "core/files.h"
#include "io/micrograph.h"
#include "io/mrc.h"
#include "io/star.h"

namespace emkit {
namespace {

nlohmann::json InfoMrc(const std::string& path) {
  MrcHeader h;
  // Statistics section by section: a large stack never has to fit in memory.
  h = ReadMrcHeader(path);
  double sum = 0, sum2 = 0, lo = 0, hi = 0;
  std::size_t n = 0, bad = 0;
  for (int z = 0; z < h.nz; ++z) {
    Image s = ReadMrcSection(path, z, &h);
    Stats st = ComputeStats(s);
    const std::size_t good = s.size() - st.nan_count;
    bad += st.nan_count;
    if (good == 0) continue;
    if (n == 0) lo = st.min, hi = st.max;
    lo = std::min(lo, st.min);
    hi = std::max(hi, st.max);
    sum += st.mean * good;
    sum2 += st.rms * st.rms * good;
    n += good;
  }
  const double mean = n ? sum / n : 0;
  const char* kind = h.ispg == 1 ? "volume" : h.ispg == 401 ? "volume stack" : h.nz > 1 ? "image stack" : "image";
  nlohmann::json j = {{"file", path},
                      {"format", "mrc"},
                      {"kind", kind},
                      {"nx", h.nx},
                      {"ny", h.ny},
                      {"nz", h.nz},
                      {"mode", h.mode},
                      {"pixel_size", h.PixelSize()},
                      {"origin", h.origin},
                      {"extended_header_bytes", h.nsymbt},
                      {"min", lo},
                      {"max", hi},
                      {"mean", mean},
                      {"rms", n ? std::sqrt(sum2 / n) : 0.0},
                      {"stddev", n ? std::sqrt(std::max(0.0, sum2 / n - mean * mean)) : 0.0},
                      {"non_finite", bad}};
  return j;
}

nlohmann::json InfoStar(const std::string& path) {
  StarFile f = ReadStar(path);
  if (f.blocks.empty()) throw InvalidInputError(path + ": empty STAR file (no data_ block)");
  nlohmann::json blocks = nlohmann::json::array();
  for (const auto& b : f.blocks)
    blocks.push_back(
        {{"name", "data_" + b.name()}, {"loop", b.is_loop()}, {"rows", b.num_rows()}, {"columns", b.labels()}});
  return {{"file", path}, {"format", "star"}, {"version", f.version}, {"blocks", blocks}};
}

nlohmann::json InfoImage(const std::string& path) {
  MicrographInfo mi;
  Image img = ReadMicrograph(path, &mi);
  Stats s = ComputeStats(img);
  return {{"non_finite", s.nan_count},
          {"file", path},
          {"format", Extension(path).substr(1)},
          {"nx", img.nx()},
          {"ny", img.ny()},
          {"bit_depth", mi.bit_depth},
          {"min", s.min},
          {"max", s.max},
          {"mean", s.mean},
          {"rms", s.rms},
          {"stddev", s.stddev}};
}

void PrintText(const nlohmann::json& j) {
  const std::string fmt = j["format"];
  if (fmt == "mrc") {
    std::printf("%s: MRC %s %dx%dx%d mode %d, pixel %.4g Å, min %.4g max %.4g mean %.4g rms %.4g\n",
                j["file"].get<std::string>().c_str(), j["kind"].get<std::string>().c_str(), j["nx"].get<int>(),
                j["ny"].get<int>(), j["nz"].get<int>(), j["mode"].get<int>(), j["pixel_size"].get<double>(),
                j["min"].get<double>(), j["max"].get<double>(), j["mean"].get<double>(), j["rms"].get<double>());
    if (const auto bad = j["non_finite"].get<std::size_t>())
      std::printf("%s: %zu of %lld values are NaN/Inf (statistics above are over the finite ones)\n",
                  j["file"].get<std::string>().c_str(), bad,
                  static_cast<long long>(j["nx"].get<int>()) * j["ny"].get<int>() * j["nz"].get<int>());
  } else if (fmt == "star") {
    std::printf("%s: STAR (version %d), %zu block(s)\n", j["file"].get<std::string>().c_str(), j["version"].get<int>(),
                j["blocks"].size());
    for (const auto& b : j["blocks"]) {
      std::printf("  %-24s %s %6zu row(s), %2zu column(s):", b["name"].get<std::string>().c_str(),
                  b["loop"].get<bool>() ? "loop " : "pairs", b["rows"].get<std::size_t>(), b["columns"].size());
      for (const auto& c : b["columns"]) std::printf(" %s", c.get<std::string>().c_str());
      std::printf("\n");
    }
  } else {
    std::printf("%s: %s image %dx%d, %d-bit, min %.4g max %.4g mean %.4g\n", j["file"].get<std::string>().c_str(),
                fmt.c_str(), j["nx"].get<int>(), j["ny"].get<int>(), j["bit_depth"].get<int>(), j["min"].get<double>(),
                j["max"].get<double>(), j["mean"].get<double>());
  }
}

}  // namespace

int RunInfo(int argc, char** argv) {
  CLI::App app("Summarise MRC (.mrc/.mrcs/.map), STAR and micrograph image (.png/.tif/.jpg) files", argv[0]);
  std::vector<std::string> files;
  bool json = false;
  CommonOptions common;
  AddInput(app, files, "Files to describe", "files")->required();
  app.add_flag("--json", json, "Print one JSON document instead of text");
  AddCommonOptions(app, &common);
  if (int rc = ParseCommandLine(app, argc, argv); rc >= 0) return rc;
  ApplyCommonOptions(&common);
  nlohmann::json all = nlohmann::json::array();
  int failures = 0;
  for (const auto& f : files) {
    try {
      const std::string ext = Extension(f);
      nlohmann::json j;
      if (ext == ".mrc" || ext == ".mrcs" || ext == ".map" || ext == ".st" || ext == ".ali")
        j = InfoMrc(f);
      else if (ext == ".star")
        j = InfoStar(f);
      else if (ext == ".png" || ext == ".tif" || ext == ".tiff" || ext == ".jpg" || ext == ".jpeg")
        j = InfoImage(f);
      else
        throw InvalidInputError(f + ": unknown file type '" + ext + "' (mrc, mrcs, map, star, png, tif, jpg)");
      if (json)
        all.push_back(j);
      else
        PrintText(j);
      // Described, but not usable data: a script checking the exit status should know.
      if (j.contains("non_finite") && j["non_finite"].get<std::size_t>() > 0) {
        std::fprintf(stderr, "emkit info: error: %s: %zu NaN/Inf value(s)\n", f.c_str(),
                     j["non_finite"].get<std::size_t>());
        ++failures;
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "emkit info: error: %s\n", e.what());
      if (json) all.push_back({{"file", f}, {"error", e.what()}});
      ++failures;
    }
  }
  if (json) std::printf("%s\n", all.dump(2).c_str());
  return failures ? 1 : 0;
}

EMKIT_REGISTER_COMMAND(RunInfo, "info", "Summarise MRC, STAR and micrograph image files");

}  // namespace emkit
