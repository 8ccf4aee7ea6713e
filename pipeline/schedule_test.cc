// Schedules: parsing, errors naming file and line, references between jobs, command lines,
// hashes and the Slurm scripts.
#include "pipeline/schedule.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/files.h"
#include "io/star.h"
#include "pipeline/relion_pipeline.h"
#include "pipeline/runner.h"

namespace emkit {
namespace {
namespace fs = std::filesystem;

const char* kSchedule = R"(project = "proj"
[[job]]
name = "sim"
type = "simulate micrographs"
threads = 2
[job.options]
n = 2
snr = 0.2
pictures = true
ctf = false

[[job]]
type = "pick"
ranks = 2
[job.options]
in = "{sim}/micrographs.star"
method = "log"
diameter = [200, 250.5]
"-c" = "x"

[[job]]
name = "map"
type = "reconstruct"
[job.options]
in = "{job002}/particles.star"
out = "map.mrc"

[[job]]
name = "note"
type = "external"
command = "echo {sim} > {out}/note.txt"
)";

std::string ErrorOf(const std::string& text) {
  try {
    ParseSchedule(text, "s.toml", {"simulate", "pick", "reconstruct"});
  } catch (const InvalidInputError& e) {
    return e.what();
  }
  return "";
}

TEST(Schedule, ParsesJobsOptionsAndReferences) {
  const Schedule s = ParseSchedule(kSchedule, "s.toml", {"simulate", "pick", "reconstruct"});
  EXPECT_EQ(s.project, "proj");
  ASSERT_EQ(s.jobs.size(), 4u);
  EXPECT_EQ(s.jobs[0].folder, "Simulate/job001");
  EXPECT_EQ(s.jobs[0].threads, 2);
  EXPECT_EQ(s.jobs[1].name, "job002");
  EXPECT_EQ(s.jobs[1].folder, "Pick/job002");
  EXPECT_EQ(s.jobs[1].ranks, 2);
  EXPECT_EQ(s.jobs[1].depends, std::vector<std::string>{"sim"});
  EXPECT_EQ(s.jobs[2].folder, "Reconstruct/job003");
  EXPECT_EQ(s.jobs[3].folder, "External/job004");
  EXPECT_EQ(s.jobs[3].command, "echo Simulate/job001 > {out}/note.txt");
  EXPECT_EQ(JobArguments(s.jobs[0]), (std::vector<std::string>{"simulate", "micrographs", "--n", "2", "--snr", "0.2",
                                                               "--pictures", "-o", "Simulate/job001"}));
  EXPECT_EQ(JobArguments(s.jobs[1]),
            (std::vector<std::string>{"pick", "--in", "Simulate/job001/micrographs.star", "--method", "log",
                                      "--diameter", "200", "250.5", "-c", "x", "-o", "Pick/job002"}));
  EXPECT_EQ(JobArguments(s.jobs[2]), (std::vector<std::string>{"reconstruct", "--in", "Pick/job002/particles.star",
                                                               "--out", "Reconstruct/job003/map.mrc"}));
  EXPECT_EQ(s.Find("Pick/job002"), &s.jobs[1]);
  EXPECT_EQ(s.Find("job004"), &s.jobs[3]);
  EXPECT_EQ(s.Find("nothing"), nullptr);
}

TEST(Schedule, ErrorsNameTheFileAndLine) {
  EXPECT_NE(ErrorOf("[[job]]\ntype = \"pick\"\n[job.options]\nin = \"{sim}/x.star\"\n").find("s.toml:4: {sim} is not"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[[job]]\ntype = \"pik\"\n").find("s.toml:1: unknown job type 'pik'"), std::string::npos);
  EXPECT_NE(ErrorOf("[[job]]\ntype = \"pick\"\nrank = 2\n").find("s.toml:3: unknown key 'rank'"), std::string::npos);
  EXPECT_NE(ErrorOf("[[job]]\ntype = \"pick\"\nranks = 0\n").find("s.toml:3: 'ranks' must be"), std::string::npos);
  EXPECT_NE(ErrorOf("[[job]]\ntype = \"pick\"\n[job.options]\nthreads = 2\n").find("s.toml:4: option 'threads'"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[[job]]\ntype = \"pick\"\nname = \"a\"\n[[job]]\ntype = \"pick\"\nname = \"a\"\n")
                .find("s.toml:4: two jobs named 'a'"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[[job]]\ntype = \"pick\"\n[job.options]\nout = \"../x\"\n").find("s.toml:4: option 'out'"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[[job]]\ntype = \"pick\"\nx = [\n").find("s.toml:"), std::string::npos);  // TOML syntax
  EXPECT_NE(ErrorOf("[[job]]\nname = \"a\"\n").find("s.toml:1: [[job]] a has no type"), std::string::npos);
  EXPECT_NE(ErrorOf("project = \"p\"\n").find("s.toml: the schedule has no [[job]]"), std::string::npos);
  EXPECT_NE(ErrorOf("[[job]]\ntype = \"external\"\n").find("has no command"), std::string::npos);
  // A later job is not an input.
  EXPECT_NE(ErrorOf("[[job]]\ntype = \"pick\"\n[job.options]\nin = \"{b}\"\n[[job]]\nname = \"b\"\ntype = \"pick\"\n")
                .find("s.toml:4: {b} is not"),
            std::string::npos);
}

TEST(Schedule, HashFollowsOptionsAndInputFilesNotThreads) {
  const std::string project = ::testing::TempDir() + "/emkit_schedule_hash";
  fs::remove_all(project);
  fs::create_directories(project);
  WriteTextFile(project + "/in.star", "data_\n");
  const char* text = "[[job]]\ntype = \"pick\"\nthreads = %d\n[job.options]\nin = \"in.star\"\ndiameter = %d\n";
  auto hash = [&](int threads, int diameter) {
    char buf[256];
    std::snprintf(buf, sizeof buf, text, threads, diameter);
    const Schedule s = ParseSchedule(buf, "s.toml");
    return JobHash(s, s.jobs[0], project);
  };
  const std::string h = hash(1, 200);
  EXPECT_EQ(hash(4, 200), h);
  EXPECT_NE(hash(1, 201), h);
  WriteTextFile(project + "/in.star", "data_ changed\n");
  EXPECT_NE(hash(1, 200), h);
  fs::remove_all(project);
}

TEST(Schedule, SlurmScriptsChainTheJobs) {
  const std::string project = fs::path(::testing::TempDir() + "/emkit_schedule_slurm").lexically_normal().string();
  fs::remove_all(project);
  const Schedule s = ParseSchedule(kSchedule, "s.toml");
  PipelineOptions o;
  o.project = project;
  o.emkit = "/opt/emkit";
  o.threads = 4;
  const std::string submit = ReadTextFile(WriteSlurmScripts(s, o));
  EXPECT_NE(submit.find("J_sim=$(sbatch --parsable Simulate/job001/job.sbatch)"), std::string::npos) << submit;
  EXPECT_NE(submit.find("J_job002=$(sbatch --parsable --dependency=afterok:${J_sim} Pick/job002/job.sbatch)"),
            std::string::npos)
      << submit;
  EXPECT_NE(submit.find("J_map=$(sbatch --parsable --dependency=afterok:${J_job002} Reconstruct/job003/job.sbatch)"),
            std::string::npos);
  const std::string pick = ReadTextFile(project + "/Pick/job002/job.sbatch");
  EXPECT_NE(pick.find("#SBATCH --ntasks=2\n"), std::string::npos) << pick;
  EXPECT_NE(pick.find("#SBATCH --cpus-per-task=4\n"), std::string::npos);
  EXPECT_NE(pick.find("/opt/emkit pipeline run " + fs::absolute("s.toml").string() + " -o " + project +
                      " --only job002 --threads 4\n"),
            std::string::npos)
      << pick;
  const std::string sim = ReadTextFile(project + "/Simulate/job001/job.sbatch");
  EXPECT_NE(sim.find("#SBATCH --cpus-per-task=2\n"), std::string::npos);
  EXPECT_THROW(WriteSlurmScripts(s, o, "#!/bin/bash\n{{command}} {{nodes}}\n"), InvalidInputError);
  EXPECT_THROW(WriteSlurmScripts(s, o, "#!/bin/bash\n"), InvalidInputError);
  fs::remove_all(project);
}

}  // namespace
}  // namespace emkit
