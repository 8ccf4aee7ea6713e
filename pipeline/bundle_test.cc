// Bundles: STAR inputs named by absolute paths, or beside the STAR file, are copied with only the
// files their rows name and rewritten to paths relative to the bundle.
#include "pipeline/bundle.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "core/files.h"
#include "io/star.h"

namespace emkit {
namespace {
namespace fs = std::filesystem;

TEST(Bundle, RewritesStarInputsAndCopiesOnlyWhatTheyName) {
  const fs::path root = fs::path(::testing::TempDir()) / "emkit_bundle_test";
  fs::remove_all(root);
  const fs::path data = root / "data", project = root / "proj";
  fs::create_directories(data / "stacks");
  WriteTextFile((data / "stacks/a.mrcs").string(), "AAAA");
  WriteTextFile((data / "stacks/unused.mrcs").string(), "unused");
  WriteTextFile((data / "b.mrcs").string(), "BB");
  // One row by absolute path, one beside the STAR file.
  WriteTextFile((data / "particles.star").string(), "data_particles\nloop_\n_rlnImageName #1\n_rlnDefocusU #2\n1@" +
                                                        (data / "stacks/a.mrcs").string() + " 10000\n2@b.mrcs 12000\n");
  fs::create_directories(project / "Class2D/job002");
  WriteTextFile((project / "Class2D/job002/job.toml").string(),
                "name = \"c\"\ntype = \"class2d\"\nargs = [\"class2d\", \"--in\", \"" +
                    (data / "particles.star").string() + "\", \"--K\", \"2\", \"-o\", \"Class2D/job002\"]\n");
  WriteTextFile((project / "Class2D/job002/emkit_class2d_options.toml").string(), "K = 2\n");
  WriteTextFile((project / "Class2D/job002/run_it001_data.star").string(), "output");
  const BundleResult r = BundleJob((project / "Class2D/job002").string(), (root / "bundle").string());
  EXPECT_EQ(r.star_files, 1);
  EXPECT_EQ(r.rewritten_names, 2);
  const StarFile f = ReadStar((root / "bundle/external/particles.star").string());
  const StarTable& t = f.Require("particles");
  EXPECT_EQ(t.Get(0, "rlnImageName"), "1@external/a.mrcs");
  EXPECT_EQ(t.Get(1, "rlnImageName"), "2@external/b.mrcs");
  EXPECT_EQ(t.Get(1, "rlnDefocusU"), "12000");
  EXPECT_EQ(ReadTextFile((root / "bundle/external/a.mrcs").string()), "AAAA");
  EXPECT_FALSE(fs::exists(root / "bundle/external/unused.mrcs"));
  EXPECT_FALSE(fs::exists(root / "bundle/Class2D/job002/run_it001_data.star"));
  EXPECT_TRUE(fs::exists(root / "bundle/job/emkit_class2d_options.toml"));
  EXPECT_TRUE(fs::exists(root / "bundle/job/job.toml"));
  const std::string rerun = ReadTextFile((root / "bundle/rerun.sh").string());
  EXPECT_NE(rerun.find("${EMKIT:-emkit} class2d --in external/particles.star --K 2 -o Class2D/job002"),
            std::string::npos)
      << rerun;
  EXPECT_EQ(r.files, 6);  // 2 stacks, the STAR, the job file, the options, rerun.sh
  EXPECT_THROW(BundleJob((project / "Class2D/job002").string(), (root / "bundle").string()), InvalidInputError);
  EXPECT_THROW(BundleJob((project / "Class2D").string(), (root / "b2").string()), InvalidInputError);
  fs::remove_all(root);
}

}  // namespace
}  // namespace emkit
