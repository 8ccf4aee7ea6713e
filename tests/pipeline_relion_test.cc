// emkit projects as RELION 3.1 sees them: job.star files written by relion_pipeliner run as emkit
// jobs; relion_pipeliner and relion_star_printtable read the default_pipeline.star emkit writes;
// emkit pick and train run as RELION External jobs, and relion_preprocess extracts the picks.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/files.h"
#include "io/star.h"
#include "tests/testing.h"

namespace emkit {
namespace {
namespace fs = std::filesystem;
using testing::RunCommand;

// A job.star as RELION's own pipeliner writes it (scheduled job of a scratch project).
std::string RelionJobStar(const std::string& scratch, const std::string& type, const std::string& options) {
  fs::remove_all(scratch);
  fs::create_directories(scratch);
  WriteTextFile(scratch + "/default_pipeline.star", "data_pipeline_general\n\n_rlnPipeLineJobCounter 1\n");
  const auto r =
      RunCommand("cd " + scratch + " && relion_pipeliner --addJob " + type + " --addJobOptions '" + options + "'");
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  return ReadTextFile(scratch + "/" + type + "/job001/job.star");
}

std::size_t DataRows(const std::string& star, const std::string& block) {
  return ReadStar(star).Require(block).num_rows();
}

TEST(PipelineRelion, JobStarFilesRunAndRelionReadsTheProject) {
  if (RunCommand("command -v relion_pipeliner").status != 0) GTEST_SKIP() << "RELION is not installed";
  const std::string dir = testing::FreshDir("pipeline_relion");
  WriteTextFile(dir + "/autopick.star",
                RelionJobStar(dir + "/scratch", "AutoPick",
                              "fn_input_autopick == Simulate/job001/micrographs.star;do_log == Yes;"
                              "log_diam_min == 120;log_diam_max == 180"));
  WriteTextFile(dir + "/extract.star", RelionJobStar(dir + "/scratch", "Extract",
                                                     "star_mics == Simulate/job001/micrographs.star;"
                                                     "coords_suffix == AutoPick/job002/coords_suffix_autopick.star;"
                                                     "extract_size == 48;do_invert == Yes"));
  WriteTextFile(dir + "/class2d.star", RelionJobStar(dir + "/scratch", "Class2D",
                                                     "fn_img == Extract/job003/particles.star;nr_classes == 2;"
                                                     "nr_iter == 2;particle_diameter == 160;psi_sampling == 12"));
  // Before the jobs that produce them run, RELION's node names for emkit's outputs: the pick job's
  // folder serves as its coords_suffix file.
  WriteTextFile(dir + "/schedule.toml", R"(project = "proj"
[[job]]
type = "simulate micrographs"
[job.options]
phantom = "asym"
diameter = 150
pixel-size = 5
n = 2
size = 384
snr = 0.5
[[job]]
relion_job = "autopick.star"
[[job]]
relion_job = "extract.star"
[job.options]
coords = "{job002}"
[[job]]
relion_job = "class2d.star"
[job.options]
seed = 5
)");
  auto r = testing::RunEmkitBinary("pipeline run " + dir + "/schedule.toml --threads 1");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  const std::string p = dir + "/proj";
  EXPECT_TRUE(FileExists(p + "/Class2D/job004/run_it002_model.star")) << r.out;
  EXPECT_NE(ReadTextFile(p + "/Pick/job002/note.txt").find("--method log --diameter 150 --diameter-min 120"),
            std::string::npos);

  // RELION's readers.
  r = RunCommand("cd " + p +
                 " && relion_star_printtable default_pipeline.star data_pipeline_processes "
                 "rlnPipeLineProcessName rlnPipeLineProcessType rlnPipeLineProcessStatus");
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* line : {"Simulate/job001/ 99 2", "Pick/job002/ 4 2", "Extract/job003/ 5 2", "Class2D/job004/ 8 2"})
    EXPECT_NE(r.out.find(line), std::string::npos) << line << " in\n" << r.out;
  r = RunCommand("cd " + p +
                 " && relion_star_printtable default_pipeline.star data_pipeline_nodes rlnPipeLineNodeName");
  EXPECT_NE(r.out.find("Extract/job003/particles.star"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Class2D/job004/run_it002_model.star"), std::string::npos) << r.out;
  r = RunCommand("cd " + p + " && relion_pipeliner --check_job_completion");
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(DataRows(p + "/default_pipeline.star", "pipeline_processes"), 4u);  // RELION wrote it back

  // An unsupported RELION option is named with its line.
  WriteTextFile(dir + "/bad.star",
                RelionJobStar(dir + "/scratch", "Class2D", "fn_img == x.star;do_fast_subsets == Yes;do_helix == Yes"));
  WriteTextFile(dir + "/bad.toml", "[[job]]\nrelion_job = \"bad.star\"\n");
  r = testing::RunEmkitBinary("pipeline run " + dir + "/bad.toml -o " + dir + "/bad --dry-run");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("bad.toml:2: relion_job:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("do_fast_subsets = 'Yes'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("do_helix = 'Yes'"), std::string::npos) << r.err;

  // emkit pick and train as RELION External jobs, as RELION calls them from the project folder.
  const std::string emkit = EMKIT_BINARY;
  r = RunCommand("cd " + p + " && " + emkit +
                 " pick --o External/job005/ --in_mics Simulate/job001/micrographs.star --method log "
                 "--diameter 150 --j 1");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(FileExists(p + "/External/job005/RELION_JOB_EXIT_SUCCESS"));
  EXPECT_TRUE(FileExists(p + "/External/job005/micrographs/mic_0001_autopick.star"));
  r = RunCommand("cd " + p +
                 " && relion_star_printtable External/job005/RELION_OUTPUT_NODES.star "
                 "data_output_nodes rlnPipeLineNodeName rlnPipeLineNodeType");
  EXPECT_NE(r.out.find("External/job005/coords_suffix_autopick.star 2"), std::string::npos) << r.out << r.err;
  const std::size_t picks = DataRows(p + "/External/job005/coordinates.star", "particles");
  r = RunCommand("cd " + p +
                 " && relion_preprocess --i Simulate/job001/micrographs.star --coord_dir External/job005/ "
                 "--coord_suffix _autopick.star --part_star rel/particles.star --part_dir rel/ --extract "
                 "--extract_size 48 --norm --bg_radius 20 --invert_contrast");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(DataRows(p + "/rel/particles.star", "particles"), picks);  // RELION found every pick file
  // A failing External job leaves RELION's failure marker.
  r = RunCommand("cd " + p + " && " + emkit + " pick --o External/job006/ --in_mics missing.star --method log " +
                 "--diameter 150 --j 1");
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(FileExists(p + "/External/job006/RELION_JOB_EXIT_FAILURE"));
  r = RunCommand("cd " + p + " && " + emkit +
                 " train --o External/job007/ --in_mics Simulate/job001/micrographs.star "
                 "--in_coords External/job005/coords_suffix_autopick.star --diameter 150 --epochs 1 "
                 "--steps-per-epoch 2 --batch-size 4 --patch 64 --width 8 --j 1");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(FileExists(p + "/External/job007/model.pt"));
  EXPECT_TRUE(FileExists(p + "/External/job007/RELION_JOB_EXIT_SUCCESS"));
  EXPECT_TRUE(FileExists(p + "/External/job007/relion_coords/mic_0001_autopick.star"));
}

}  // namespace
}  // namespace emkit
