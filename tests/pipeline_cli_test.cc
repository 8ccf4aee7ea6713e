// emkit pipeline: a small real schedule (simulate -> LoG pick -> extract) run into a project
// folder; finished jobs are skipped, changed options or inputs re-run a job and those after it,
// failed and killed jobs re-run, --from and --only, status, default_pipeline.star.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/files.h"
#include "io/star.h"
#include "tests/testing.h"

namespace emkit {
namespace {
namespace fs = std::filesystem;
using testing::RunEmkitBinary;

std::string Schedule(const std::string& diameter = "150", const std::string& box = "48") {
  return R"(project = "proj"
[[job]]
name = "sim"
type = "simulate micrographs"
[job.options]
phantom = "asym"
diameter = 150
pixel-size = 5
n = 2
size = 384
snr = 0.5
seed = 3

[[job]]
name = "log"
type = "pick"
[job.options]
method = "log"
in = "{sim}/micrographs.star"
diameter = )" +
         diameter + R"(

[[job]]
name = "parts"
type = "extract"
[job.options]
in = "{sim}/micrographs.star"
coords = "{log}"
box = )" +
         box + R"(
invert-contrast = true

[[job]]
name = "count"
type = "external"
command = "grep -c '@' {parts}/particles.star > {out}/count.txt"
)";
}

// Runs the pipeline; returns its stdout (and expects `status`).
std::string RunPipeline(const std::string& dir, const std::string& args, int status = 0) {
  const auto r = RunEmkitBinary("pipeline run " + dir + "/schedule.toml --threads 1 " + args);
  EXPECT_EQ(r.status, status) << r.out << r.err;
  return r.out;
}

std::string State(const std::string& job_dir) {
  const std::string text = ReadTextFile(job_dir + "/job.toml");
  const auto p = text.find("state = \"");
  return text.substr(p + 9, text.find('"', p + 9) - p - 9);
}

std::size_t Count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

TEST(PipelineCli, RunsSkipsAndReRunsWhatChanged) {
  const std::string dir = testing::FreshDir("pipeline");
  WriteTextFile(dir + "/schedule.toml", Schedule());
  const std::string p = dir + "/proj";
  std::string out = RunPipeline(dir, "");
  EXPECT_EQ(Count(out, ": done in "), 4u) << out;
  for (const char* job : {"Simulate/job001", "Pick/job002", "Extract/job003", "External/job004"}) {
    EXPECT_EQ(State(p + "/" + job), "done") << job;
    EXPECT_TRUE(FileExists(p + "/" + job + "/RELION_JOB_EXIT_SUCCESS")) << job;
    EXPECT_TRUE(FileExists(p + "/" + job + "/run.out")) << job;
  }
  EXPECT_TRUE(FileExists(p + "/Pick/job002/emkit_pick.done"));
  EXPECT_TRUE(FileExists(p + "/Extract/job003/emkit_extract_options.toml"));
  const int particles = std::stoi(ReadTextFile(p + "/External/job004/count.txt"));
  EXPECT_GT(particles, 5);

  // Status: every job done, with its result.
  auto st = RunEmkitBinary("pipeline status " + dir + "/schedule.toml");
  ASSERT_EQ(st.status, 0) << st.err;
  EXPECT_EQ(Count(st.out, " done "), 4u) << st.out;
  EXPECT_NE(st.out.find(std::to_string(particles) + " particles"), std::string::npos) << st.out;

  // RELION's view of the project.
  const StarFile pipeline = ReadStar(p + "/default_pipeline.star");
  const StarTable& processes = pipeline.Require("pipeline_processes");
  ASSERT_EQ(processes.num_rows(), 4u);
  EXPECT_EQ(processes.Get(1, "rlnPipeLineProcessName"), "Pick/job002/");
  EXPECT_EQ(processes.Get(1, "rlnPipeLineProcessType"), "4");
  EXPECT_EQ(processes.Get(1, "rlnPipeLineProcessStatus"), "2");
  const StarTable& edges = pipeline.Require("pipeline_input_edges");
  bool extract_reads_mics = false;
  for (std::size_t i = 0; i < edges.num_rows(); ++i)
    extract_reads_mics |= edges.Get(i, "rlnPipeLineEdgeFromNode") == "Simulate/job001/micrographs.star" &&
                          edges.Get(i, "rlnPipeLineEdgeProcess") == "Extract/job003/";
  EXPECT_TRUE(extract_reads_mics);

  // A bundle of the extract job: its inputs (the micrographs STAR with only the micrographs it
  // names, the picks), its job file and rerun.sh, which re-runs it there.
  auto b = RunEmkitBinary("pipeline bundle " + p + "/Extract/job003 " + dir + "/bundle");
  ASSERT_EQ(b.status, 0) << b.err;
  EXPECT_NE(b.out.find("(1 STAR inputs, 0 file names rewritten)"), std::string::npos) << b.out;
  EXPECT_TRUE(FileExists(dir + "/bundle/Simulate/job001/micrographs/mic_0002.mrc"));
  EXPECT_FALSE(fs::exists(dir + "/bundle/Simulate/job001/truth"));  // not named by the STAR
  EXPECT_TRUE(FileExists(dir + "/bundle/Pick/job002/mic_0001_autopick.star"));
  EXPECT_TRUE(FileExists(dir + "/bundle/job/job.toml"));
  EXPECT_TRUE(FileExists(dir + "/bundle/job/emkit_extract_options.toml"));
  EXPECT_FALSE(FileExists(dir + "/bundle/Extract/job003/particles.star"));  // outputs stay behind
  b = testing::RunCommand("EMKIT=" + std::string(EMKIT_BINARY) + " " + dir + "/bundle/rerun.sh --threads 1");
  ASSERT_EQ(b.status, 0) << b.out << b.err;
  EXPECT_EQ(ReadTextFile(dir + "/bundle/Extract/job003/particles.star").size(),
            ReadTextFile(p + "/Extract/job003/particles.star").size());
  b = RunEmkitBinary("pipeline bundle " + p + "/Extract/job003 " + dir + "/bundle");
  EXPECT_NE(b.err.find("exists and is not empty"), std::string::npos) << b.err;

  // Nothing changed: nothing runs.
  out = RunPipeline(dir, "");
  EXPECT_EQ(Count(out, "skipped"), 4u) << out;

  // Another box: extract and the job after it re-run, not simulate or pick.
  WriteTextFile(dir + "/schedule.toml", Schedule("150", "40"));
  out = RunPipeline(dir, "");
  EXPECT_EQ(Count(out, "skipped"), 2u) << out;
  EXPECT_NE(out.find("parts (Extract/job003, extract): re-run (inputs or options changed)"), std::string::npos) << out;
  EXPECT_NE(out.find("count (External/job004, external): re-run (inputs or options changed)"), std::string::npos);

  // --from pick re-runs pick and everything after it; --only runs one job.
  out = RunPipeline(dir, "--from log");
  EXPECT_EQ(Count(out, "skipped"), 1u) << out;
  EXPECT_EQ(Count(out, ": done in "), 3u) << out;
  out = RunPipeline(dir, "--only parts --from parts");
  EXPECT_EQ(Count(out, ": done in "), 1u) << out;
  EXPECT_EQ(Count(out, "[3/4]"), 2u) << out;  // started, done
  EXPECT_EQ(Count(out, "["), 2u) << out;
  // ... which made the external job's input newer: it re-runs.
  auto status = RunEmkitBinary("pipeline status " + dir + "/schedule.toml");
  EXPECT_NE(status.out.find("changed"), std::string::npos) << status.out;
  RunPipeline(dir, "");
}

// The re-run rules on quick external jobs: a failed job stops the pipeline and re-runs once
// fixed; a killed one re-runs from an empty folder; a changed job re-runs what follows it.
TEST(PipelineCli, FailedAndKilledJobsReRun) {
  const std::string dir = testing::FreshDir("pipeline_rerun");
  const std::string p = dir + "/proj";
  auto schedule = [&](const std::string& second) {
    WriteTextFile(dir + "/schedule.toml",
                  "project = \"proj\"\n[[job]]\nname = \"a\"\ntype = \"external\"\n"
                  "command = \"echo 1 > {out}/a.txt\"\n"
                  "[[job]]\nname = \"b\"\ntype = \"external\"\ncommand = \"" +
                      second +
                      "\"\n"
                      "[[job]]\nname = \"c\"\ntype = \"external\"\n"
                      "command = \"cat {b}/b.txt > {out}/c.txt\"\n");
  };
  schedule("cat {a}/a.txt > {out}/b.txt; echo bad >&2; exit 3");
  std::string out = RunPipeline(dir, "", 1);
  EXPECT_NE(out.find("b (External/job002, external): FAILED after"), std::string::npos) << out;
  EXPECT_NE(out.find("(exit status 3): bad"), std::string::npos) << out;
  EXPECT_EQ(State(p + "/External/job002"), "failed");
  EXPECT_TRUE(FileExists(p + "/External/job002/RELION_JOB_EXIT_FAILURE"));
  EXPECT_FALSE(fs::exists(p + "/External/job003"));
  auto status = RunEmkitBinary("pipeline status " + dir + "/schedule.toml");
  EXPECT_NE(status.out.find("failed"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("not run"), std::string::npos) << status.out;

  schedule("cat {a}/a.txt > {out}/b.txt");
  out = RunPipeline(dir, "");
  EXPECT_NE(out.find("a (External/job001, external): done"), std::string::npos) << out;
  EXPECT_NE(out.find("b (External/job002, external): re-run (failed)"), std::string::npos) << out;
  EXPECT_FALSE(FileExists(p + "/External/job002/RELION_JOB_EXIT_FAILURE"));
  EXPECT_EQ(ReadTextFile(p + "/External/job003/c.txt"), "1\n");

  // Killed: its record says running, its process is gone.
  std::string record = ReadTextFile(p + "/External/job002/job.toml");
  record.replace(record.find("state = \"done\""), 14, "state = \"running\"");
  record.replace(record.find("pid = "), 6, "pid = 999999999 #");
  WriteTextFile(p + "/External/job002/job.toml", record);
  WriteTextFile(p + "/External/job002/stale.txt", "left by the killed run");
  status = RunEmkitBinary("pipeline status " + dir + "/schedule.toml");
  EXPECT_NE(status.out.find("killed"), std::string::npos) << status.out;
  out = RunPipeline(dir, "");
  EXPECT_NE(out.find("b (External/job002, external): re-run (killed)"), std::string::npos) << out;
  EXPECT_NE(out.find("c (External/job003, external): re-run (inputs or options changed)"), std::string::npos) << out;
  EXPECT_FALSE(FileExists(p + "/External/job002/stale.txt"));
  EXPECT_EQ(State(p + "/External/job002"), "done");
}

// A killed class2d job continues from its last complete iteration (class2d --continue).
TEST(PipelineCli, KilledClass2dContinues) {
  const std::string dir = testing::FreshDir("pipeline_continue");
  WriteTextFile(dir + "/schedule.toml", R"(project = "proj"
[[job]]
name = "parts"
type = "simulate particles"
[job.options]
phantom = "asym"
diameter = 120
pixel-size = 5
box = 32
n = 60
[[job]]
name = "c2d"
type = "class2d"
[job.options]
in = "{parts}/particles.star"
K = 2
iter = 2
particle-diameter = 130
psi-step = 30
no-png = true
)");
  RunPipeline(dir, "");
  const std::string c = dir + "/proj/Class2D/job002";
  ASSERT_TRUE(FileExists(c + "/run_it002_model.star"));
  std::string record = ReadTextFile(c + "/job.toml");
  record.replace(record.find("state = \"done\""), 14, "state = \"running\"");
  record.replace(record.find("pid = "), 6, "pid = 999999999 #");
  WriteTextFile(c + "/job.toml", record);
  for (const auto& e : fs::directory_iterator(c))
    if (e.path().filename().string().rfind("run_it002", 0) == 0 || e.path().filename() == "emkit_class2d.done")
      fs::remove(e.path());
  const std::string out = RunPipeline(dir, "");
  EXPECT_NE(out.find("c2d (Class2D/job002, class2d): re-run (killed): continuing: "), std::string::npos) << out;
  EXPECT_NE(out.find("--continue Class2D/job002/run_it001_optimiser.star"), std::string::npos) << out;
  EXPECT_TRUE(FileExists(c + "/run_it002_model.star"));
  EXPECT_EQ(State(c), "done");
}

TEST(PipelineCli, DryRunAndErrors) {
  const std::string dir = testing::FreshDir("pipeline_dry");
  WriteTextFile(dir + "/schedule.toml", Schedule());
  const std::string out = RunPipeline(dir, "--dry-run");
  EXPECT_NE(out.find("simulate micrographs --phantom asym"), std::string::npos) << out;
  EXPECT_NE(out.find("-o Simulate/job001 --threads 1"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(dir + "/proj/Simulate"));
  // An unknown command, naming file and line.
  WriteTextFile(dir + "/bad.toml", "[[job]]\ntype = \"pik\"\n");
  auto r = RunEmkitBinary("pipeline run " + dir + "/bad.toml -o " + dir + "/p");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("bad.toml:1: unknown job type 'pik'"), std::string::npos) << r.err;
  // --only a job whose input has not run.
  r = RunEmkitBinary("pipeline run " + dir + "/schedule.toml --only parts");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("needs sim (Simulate/job001), which is not run"), std::string::npos) << r.err;
  r = RunEmkitBinary("pipeline run " + dir + "/schedule.toml --from nothing");
  EXPECT_NE(r.err.find("no job named 'nothing'"), std::string::npos) << r.err;
}

TEST(PipelineCli, SlurmScriptsWithAFakeSbatch) {
  const std::string dir = testing::FreshDir("pipeline_slurm");
  WriteTextFile(dir + "/schedule.toml", Schedule());
  fs::create_directories(dir + "/bin");
  WriteTextFile(dir + "/bin/sbatch", "#!/bin/sh\necho \"$@\" >> " + dir + "/sbatch.log\necho $((1000 + $(wc -l < " +
                                         dir + "/sbatch.log)))\n");
  fs::permissions(dir + "/bin/sbatch", fs::perms::owner_all);
  const auto r = testing::RunCommand("PATH=" + dir + "/bin:$PATH " + std::string(EMKIT_BINARY) + " pipeline run " +
                                     dir + "/schedule.toml --submit slurm --threads 3");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  const std::string log = ReadTextFile(dir + "/sbatch.log");
  EXPECT_NE(log.find("--parsable Simulate/job001/job.sbatch\n"), std::string::npos) << log;
  EXPECT_NE(log.find("--parsable --dependency=afterok:1001 Pick/job002/job.sbatch\n"), std::string::npos) << log;
  EXPECT_NE(log.find("--parsable --dependency=afterok:1001:1002 Extract/job003/job.sbatch\n"), std::string::npos)
      << log;
  EXPECT_NE(r.out.find("parts (Extract/job003): Slurm job 1003"), std::string::npos) << r.out;
  EXPECT_NE(ReadTextFile(dir + "/proj/Pick/job002/job.sbatch").find("--only log --threads 3"), std::string::npos);
}

}  // namespace
}  // namespace emkit
