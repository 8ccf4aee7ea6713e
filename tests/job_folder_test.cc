// The output folder rule (core/job_folder.h) and interruption: a folder holding another job's
// results is refused unless --overwrite, which removes only that job's files; inputs are never
// written over; --continue/--resume keep the original command; a job is complete only with its
// .done marker; temporary files go on errors and on SIGTERM.
#include "core/job_folder.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "tests/testing.h"

namespace emkit {
namespace {
namespace fs = std::filesystem;
using testing::RunEmkitBinary;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Touch(const std::string& path, const std::string& text = "x") {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
}

JobFolderOptions Options(const std::string& dir) {
  JobFolderOptions o;
  o.dir = dir;
  o.command = "demo";
  o.output_patterns = {"result_*.txt", "sub/*"};
  o.options_text = "# emkit demo: effective options\n# command line: emkit demo\nn = 1\n";
  o.command_line = "emkit demo";
  return o;
}

std::vector<std::string> Listing(const std::string& dir) {
  std::vector<std::string> out;
  for (auto& e : fs::recursive_directory_iterator(dir)) out.push_back(fs::relative(e.path(), dir).string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(JobFolder, RecordsItsFilesAndCompletesWithAMarker) {
  const std::string dir = testing::FreshDir("job") + "/out";
  {
    JobFolder job(Options(dir));
    WriteTextFile(dir + "/result_1.txt", "1");
    CreateDirectories(dir + "/sub");
    WriteTextFile(dir + "/sub/a.txt", "a");
    WriteTextFile(dir + "/../outside.txt", "not listed");
    EXPECT_FALSE(FileExists(JobFolder::DoneMarker(dir, "demo")));
    job.Complete();
  }
  EXPECT_TRUE(FileExists(JobFolder::DoneMarker(dir, "demo")));
  EXPECT_EQ(Slurp(JobFolder::FilesList(dir, "demo")), "result_1.txt\nsub/a.txt\n");
  EXPECT_EQ(Slurp(JobFolder::OptionsFile(dir, "demo")), Options(dir).options_text);
  EXPECT_EQ(JobFolder::JobsIn(dir), std::set<std::string>{"demo"});
}

TEST(JobFolder, AJobThatWroteNothingLeavesNothing) {
  const std::string dir = testing::FreshDir("job") + "/out";
  {
    JobFolder job(Options(dir));
    CreateDirectories(dir + "/sub");  // then its input is refused
  }
  EXPECT_FALSE(fs::exists(dir));
  {
    JobFolder job(Options(dir));
    WriteTextFile(dir + "/result_1.txt", "1");  // interrupted after an output
  }
  EXPECT_TRUE(FileExists(JobFolder::OptionsFile(dir, "demo")));
  EXPECT_FALSE(FileExists(JobFolder::DoneMarker(dir, "demo")));
}

TEST(JobFolder, RefusesAnEarlierJobUnlessOverwriteWhichRemovesOnlyItsFiles) {
  const std::string dir = testing::FreshDir("job") + "/out";
  {
    JobFolder job(Options(dir));
    WriteTextFile(dir + "/result_1.txt", "1");
    WriteTextFile(dir + "/result_2.txt", "2");
    CreateDirectories(dir + "/sub");
    WriteTextFile(dir + "/sub/a.txt", "a");
    WriteTextFile(dir + "/notes_by_emkit.txt", "listed, matches no pattern");
    job.Complete();
  }
  Touch(dir + "/my_notes.txt", "the user's");
  Touch(dir + "/keep/mine.txt", "the user's");
  Touch(dir + "/result_9.txt.tmp.123.0", "debris of a killed run");
  // Any emkit job, the same command or another, is in the way.
  for (const std::string command : {"demo", "other"}) {
    JobFolderOptions o = Options(dir);
    o.command = command;
    try {
      JobFolder again(o);
      FAIL() << "a folder with an earlier job was accepted";
    } catch (const InvalidInputError& e) {
      EXPECT_NE(std::string(e.what()).find("--overwrite"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("emkit demo"), std::string::npos) << e.what();
    }
  }
  EXPECT_TRUE(FileExists(dir + "/result_2.txt"));
  JobFolderOptions o = Options(dir);
  o.overwrite = true;
  {
    JobFolder again(o);
    WriteTextFile(dir + "/result_1.txt", "new");
    again.Complete();
  }
  EXPECT_EQ(Listing(dir), (std::vector<std::string>{"emkit_demo.done", "emkit_demo.files", "emkit_demo_options.toml",
                                                    "keep", "keep/mine.txt", "my_notes.txt", "result_1.txt"}));
  EXPECT_EQ(Slurp(dir + "/result_1.txt"), "new");
}

TEST(JobFolder, RefusesFilesTheCommandWritesWithoutAJob) {
  const std::string dir = testing::FreshDir("job");
  Touch(dir + "/result_1.txt");
  EXPECT_THROW(JobFolder job(Options(dir)), InvalidInputError);
  Touch(dir + "/unrelated.txt");
  fs::remove(dir + "/result_1.txt");
  JobFolder job(Options(dir));  // other files are not in the way
  EXPECT_TRUE(FileExists(dir + "/unrelated.txt"));
}

TEST(JobFolder, NeverTakesAnInputAsOutputEvenWithOverwrite) {
  const std::string dir = testing::FreshDir("job") + "/out";
  {
    JobFolder job(Options(dir));
    WriteTextFile(dir + "/result_2.txt", "the earlier job's result");
    WriteTextFile(dir + "/extra.txt", "listed");
    job.Complete();
  }
  for (const std::string input : {"result_2.txt", "extra.txt"}) {
    JobFolderOptions o = Options(dir);
    o.inputs = {dir + "/" + input};
    o.overwrite = true;
    try {
      JobFolder again(o);
      FAIL() << input << ": an input inside the output folder was accepted";
    } catch (const InvalidInputError& e) {
      EXPECT_NE(std::string(e.what()).find(input), std::string::npos) << e.what();
    }
    EXPECT_TRUE(FileExists(dir + "/" + input));
  }
  // A fresh folder where the input matches what the command writes: refused too.
  const std::string fresh = testing::FreshDir("fresh");
  Touch(fresh + "/result_1.txt");
  JobFolderOptions o = Options(fresh);
  o.inputs = {fresh + "/result_1.txt"};
  o.overwrite = true;
  EXPECT_THROW(JobFolder job(o), InvalidInputError);
  EXPECT_TRUE(FileExists(fresh + "/result_1.txt"));
}

TEST(JobFolder, ResumeKeepsTheOriginalCommandAndAppendsTheContinuation) {
  const std::string dir = testing::FreshDir("job") + "/out";
  {
    JobFolder job(Options(dir));
    WriteTextFile(dir + "/result_1.txt", "1");  // interrupted: no Complete()
  }
  EXPECT_FALSE(FileExists(JobFolder::DoneMarker(dir, "demo")));
  JobFolderOptions o = Options(dir);
  o.resume = true;
  o.resume_from = dir + "/result_1.txt";
  o.command_line = "emkit demo --continue";
  o.options_text = "# emkit demo: effective options\nn = 2\n";
  {
    JobFolder job(o);
    WriteTextFile(dir + "/result_2.txt", "2");
    job.Complete();
  }
  const std::string options = Slurp(JobFolder::OptionsFile(dir, "demo"));
  EXPECT_EQ(options.rfind(Options(dir).options_text, 0), 0u) << options;
  EXPECT_NE(options.find("# continued "), std::string::npos) << options;
  EXPECT_NE(options.find(": emkit demo --continue\n#   # emkit demo: effective options\n#   n = 2\n"),
            std::string::npos)
      << options;
  EXPECT_EQ(Slurp(JobFolder::FilesList(dir, "demo")), "result_1.txt\nresult_2.txt\n");
  EXPECT_TRUE(FileExists(JobFolder::DoneMarker(dir, "demo")));
  // Resuming from another folder into this job's folder is not resuming this job.
  o.resume_from = testing::FreshDir("elsewhere") + "/result_1.txt";
  EXPECT_THROW(JobFolder job(o), InvalidInputError);
}

TEST(JobFolder, TemporaryFilesGoOnErrorsAndOnSigterm) {
  const std::string dir = testing::FreshDir("tmp");
  EXPECT_THROW(WriteAtomically(dir + "/a.txt",
                               [](const std::string& tmp) {
                                 std::ofstream(tmp) << "half";
                                 throw IoError("disk full");
                               }),
               IoError);
  EXPECT_EQ(Listing(dir), std::vector<std::string>{});
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    InstallTempFileCleanup();
    WriteAtomically(dir + "/b.txt", [](const std::string& tmp) {
      std::ofstream(tmp) << "half";
      raise(SIGTERM);  // killed while writing
    });
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << "the signal is re-raised";
  EXPECT_EQ(Listing(dir), std::vector<std::string>{});
}

// The command-line cases: each command refuses an earlier job's folder; --overwrite leaves no stale file.
TEST(JobFolderCli, SimulateRefusesAnEarlierRunAndOverwriteLeavesNoStaleMicrographs) {
  const std::string dir = testing::FreshDir("sim") + "/sim";
  const std::string args =
      "simulate micrographs --phantom asym --diameter 100 --pixel-size 8 --size 128 -q --out " + dir;
  auto r = RunEmkitBinary(args + " --n 3");
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_TRUE(FileExists(dir + "/micrographs/mic_0003.mrc"));
  EXPECT_TRUE(FileExists(dir + "/emkit_simulate.done"));
  r = RunEmkitBinary(args + " --n 1");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("--overwrite"), std::string::npos) << r.err;
  EXPECT_TRUE(FileExists(dir + "/micrographs/mic_0003.mrc"));
  r = RunEmkitBinary(args + " --n 1 --overwrite");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(FileExists(dir + "/micrographs/mic_0003.mrc")) << "stale micrograph of the larger run";
  EXPECT_FALSE(FileExists(dir + "/truth/mic_0003.star")) << "stale truth of the larger run";
  EXPECT_TRUE(FileExists(dir + "/micrographs/mic_0001.mrc"));
}

TEST(JobFolderCli, PickFolderIsNotReusedWithStaleAutopickFiles) {
  const std::string dir = testing::FreshDir("pick");
  auto r = RunEmkitBinary(
      "simulate micrographs --phantom asym --diameter 100 --pixel-size 8 --size 128 --n 2 -q "
      "--out " +
      dir + "/sim");
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string pick = "pick --method log --diameter 100 -q -o " + dir + "/picks -i ";
  r = RunEmkitBinary(pick + dir + "/sim/micrographs.star");
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_TRUE(FileExists(dir + "/picks/mic_0002_autopick.star"));
  r = RunEmkitBinary(pick + dir + "/sim/micrographs/mic_0001.mrc");
  EXPECT_NE(r.status, 0) << "a second pick into the folder";
  EXPECT_NE(r.err.find("--overwrite"), std::string::npos) << r.err;
  r = RunEmkitBinary(pick + dir + "/sim/micrographs/mic_0001.mrc --overwrite");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(FileExists(dir + "/picks/mic_0002_autopick.star")) << "extract would read the old picks";
  EXPECT_TRUE(FileExists(dir + "/picks/mic_0001_autopick.star"));
  // Extract refuses the pick job's folder as its output, and --overwrite would remove its input.
  const std::string extract =
      "extract -i " + dir + "/sim/micrographs.star -c " + dir + "/picks --box 16 -q -o " + dir + "/picks";
  r = RunEmkitBinary(extract);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("emkit pick"), std::string::npos) << r.err;
  r = RunEmkitBinary(extract + " --overwrite");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("an input of emkit extract"), std::string::npos) << r.err;
  EXPECT_TRUE(FileExists(dir + "/picks/mic_0001_autopick.star"));
}

TEST(JobFolderCli, TrainWithoutResumeKeepsAnEarlierModel) {
  const std::string dir = testing::FreshDir("train");
  Touch(dir + "/cnn/model.pt", "earlier model");
  Touch(dir + "/cnn/checkpoint.pt", "earlier checkpoint");
  const auto r = RunEmkitBinary("train -i " + dir + "/mics -c " + dir + "/coords --diameter 100 -q -o " + dir + "/cnn");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("--overwrite"), std::string::npos) << r.err;
  EXPECT_EQ(Slurp(dir + "/cnn/model.pt"), "earlier model");
  EXPECT_EQ(Slurp(dir + "/cnn/checkpoint.pt"), "earlier checkpoint");
}

class Class2dFolder : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshDir("c2d");
    const auto r = RunEmkitBinary("simulate particles --phantom asym --n 24 --pixel-size 8 --box 24 --snr 1 -q --out " +
                                  dir_ + "/data");
    ASSERT_EQ(r.status, 0) << r.err;
  }
  std::string Class2d(const std::string& args) const {
    return "class2d --i " + dir_ +
           "/data/particles.star --particle-diameter 150 --psi-step 30 --offset-range 1 "
           "--no-png -q --threads 1 " +
           args;
  }
  std::string dir_;
};

TEST_F(Class2dFolder, SecondRunIsRefusedAndOverwriteLeavesNoLaterIterations) {
  const std::string out = dir_ + "/c2d";
  auto r = RunEmkitBinary(Class2d("--K 3 --iter 3 --o " + out));
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_TRUE(FileExists(out + "/run_it003_model.star"));
  EXPECT_TRUE(FileExists(out + "/emkit_class2d.done"));
  r = RunEmkitBinary(Class2d("--K 2 --iter 1 --o " + out));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("--overwrite"), std::string::npos) << r.err;
  r = RunEmkitBinary(Class2d("--K 2 --iter 1 --overwrite --o " + out));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(FileExists(out + "/run_it001_model.star"));
  EXPECT_FALSE(FileExists(out + "/run_it002_model.star")) << "the earlier run's later iterations stay";
  EXPECT_FALSE(FileExists(out + "/run_it003_classes.mrcs"));
}

TEST_F(Class2dFolder, NeverOverwritesItsOwnInput) {
  const std::string out = dir_ + "/c2d";
  auto r = RunEmkitBinary(Class2d("--K 2 --iter 2 --o " + out));
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string input = out + "/run_it002_data.star";
  const std::string before = Slurp(input);
  for (const std::string extra : {"", " --overwrite"}) {
    r = RunEmkitBinary("class2d --i " + input + " --K 2 --iter 2 --no-png -q --o " + out + extra);
    EXPECT_NE(r.status, 0) << extra;
    EXPECT_NE(r.err.find("run_it002_data.star"), std::string::npos) << r.err;
    EXPECT_EQ(Slurp(input), before);
  }
}

TEST_F(Class2dFolder, ContinueKeepsTheOriginalCommandAndDropsTheRedoneIterations) {
  const std::string out = dir_ + "/c2d";
  auto r = RunEmkitBinary(Class2d("--K 2 --iter 4 --o " + out));
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string original = Slurp(out + "/emkit_class2d_options.toml");
  Touch(out + "/run_it005_model.star", "not written by this job");
  r = RunEmkitBinary("class2d --continue " + out + "/run_it002_optimiser.star --iter 3 -q --no-png --o " + out);
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string options = Slurp(out + "/emkit_class2d_options.toml");
  EXPECT_EQ(options.rfind(original, 0), 0u) << "the original command is kept";
  EXPECT_NE(options.find("--continue " + out + "/run_it002_optimiser.star"), std::string::npos) << options;
  EXPECT_TRUE(FileExists(out + "/run_it003_optimiser.star"));
  EXPECT_FALSE(FileExists(out + "/run_it004_model.star")) << "iteration 4 of the run being redone";
  EXPECT_TRUE(FileExists(out + "/run_it005_model.star")) << "a file the job did not write";
  EXPECT_TRUE(FileExists(out + "/emkit_class2d.done"));
  // Continuing from another folder into this job's folder is refused.
  const std::string other = dir_ + "/other";
  r = RunEmkitBinary(Class2d("--K 2 --iter 1 --o " + other));
  ASSERT_EQ(r.status, 0) << r.err;
  r = RunEmkitBinary("class2d --continue " + other + "/run_it001_optimiser.star --iter 2 -q --no-png --o " + out);
  EXPECT_NE(r.status, 0);
}

TEST_F(Class2dFolder, AnIterationWithoutItsOptimiserIsIncomplete) {
  const std::string out = dir_ + "/c2d";
  auto r = RunEmkitBinary(Class2d("--K 2 --iter 2 --o " + out));
  ASSERT_EQ(r.status, 0) << r.err;
  fs::remove(out + "/run_it002_optimiser.star");  // killed before the iteration's last file
  r = RunEmkitBinary("class2d --continue " + out + "/run_it002_model.star --iter 3 -q --no-png --o " + out);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("incomplete"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace emkit
