// class2d --continue is bit-identical to the uninterrupted run: 4 iterations straight and 2 +
// continued 2 give the same bytes in every file (the command line and the folder's name aside).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/testing.h"

namespace emkit {
namespace {
namespace fs = std::filesystem;
using testing::RunEmkitBinary;

// The file with the folder's own path made neutral and the options that differ dropped (the
// optimiser.star names the command line that wrote it and --iter).
std::string Normalised(const std::string& path, const std::string& dir) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# emkit class2d", 0) == 0 || line.rfind("# class2d", 0) == 0) continue;
    if (line.rfind("_rlnNumberOfIterations", 0) == 0) continue;  // --iter: 4, or 2 then 4
    for (std::size_t p = line.find(dir); p != std::string::npos; p = line.find(dir, p))
      line.replace(p, dir.size(), "DIR");
    out << line << '\n';
  }
  return out.str();
}

void ExpectSameFiles(const std::string& a, const std::string& b) {
  std::vector<std::string> names;
  for (auto& e : fs::directory_iterator(a)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  int compared = 0;
  for (const std::string& name : names) {
    if (name.rfind("emkit_class2d", 0) == 0) continue;  // options (command lines), file list, marker
    ASSERT_TRUE(fs::exists(b + "/" + name)) << name;
    EXPECT_EQ(Normalised(a + "/" + name, a), Normalised(b + "/" + name, b)) << name << " differs";
    ++compared;
  }
  EXPECT_GE(compared, 5 * 7);
  std::size_t in_b = 0;
  for (auto& e : fs::directory_iterator(b)) in_b += e.path().filename().string().rfind("emkit_class2d", 0) != 0;
  EXPECT_EQ(in_b, static_cast<std::size_t>(compared)) << "files only in the continued run";
}

TEST(Class2dContinue, TwoPlusTwoIterationsAreBitIdenticalToFour) {
  const std::string dir = testing::FreshDir("cont");
  auto r = RunEmkitBinary("simulate particles --phantom asym --n 40 --pixel-size 8 --box 24 --snr 0.5 -q --out " + dir +
                          "/data");
  ASSERT_EQ(r.status, 0) << r.err;
  // Options the continued run takes from the files: the corrections, T (model.star), --incr-size.
  const std::vector<std::pair<std::string, std::string>> runs = {
      {"plain", ""}, {"ns", " --norm --scale"}, {"t3", " --tau2-fudge 3 --incr-size 4"}};
  for (const auto& [tag, corrections] : runs) {
    const std::string common = "--particle-diameter 150 --psi-step 15 --offset-range 2 -q --threads 2" + corrections;
    const std::string straight = dir + "/straight_" + tag, split = dir + "/split_" + tag;
    r = RunEmkitBinary("class2d --i " + dir + "/data/particles.star --K 3 --iter 4 --o " + straight + " " + common);
    ASSERT_EQ(r.status, 0) << r.err;
    r = RunEmkitBinary("class2d --i " + dir + "/data/particles.star --K 3 --iter 2 --o " + split + " " + common);
    ASSERT_EQ(r.status, 0) << r.err;
    r = RunEmkitBinary("class2d --continue " + split + "/run_it002_optimiser.star --iter 4 --o " + split +
                       " -q --threads 1");
    ASSERT_EQ(r.status, 0) << r.err;
    SCOPED_TRACE(tag);
    ExpectSameFiles(straight, split);
  }
}

}  // namespace
}  // namespace emkit
