// emkit's point groups against RELION's own matrices (relion_refine --print_symmetry_ops).
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "core/geometry.h"
#include "tests/testing.h"

namespace emkit {

static std::vector<Mat3> RelionOps(const std::string& sym) {
  auto r = testing::RunCommand("relion_refine --sym " + sym + " --print_symmetry_ops --o " + ::testing::TempDir() +
                               "/emkit_symops");
  std::vector<Mat3> ops;
  std::istringstream in(r.out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("R(") == std::string::npos) continue;
    Mat3 m;
    for (int row = 0; row < 3; ++row) {
      std::getline(in, line);
      std::istringstream ls(line);
      ls >> m(row, 0) >> m(row, 1) >> m(row, 2);
    }
    ops.push_back(m);
  }
  return ops;
}

TEST(SymmetryRelion, SameMatricesAsRelion) {
  if (!std::filesystem::exists("/usr/bin/relion_refine")) GTEST_SKIP() << "relion_refine not installed";
  for (const char* sym : {"C1", "C4", "D3", "D7", "T", "O", "I"}) {
    SCOPED_TRACE(sym);
    SymmetryGroup g(sym);
    auto relion = RelionOps(sym);
    ASSERT_EQ(static_cast<int>(relion.size()), g.order());
    for (const auto& r : relion) {
      bool found = false;
      for (const auto& m : g.matrices()) found |= MaxAbsDifference(m, r) < 2e-4;  // RELION prints 5 digits
      EXPECT_TRUE(found) << "a RELION operator is missing from emkit's group";
    }
  }
}

}  // namespace emkit
