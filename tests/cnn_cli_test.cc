// emkit train / emkit pick --method cnn from the command line: outputs, reuse of the model's
// stored preprocessing and threshold, and clear errors for bad inputs.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <regex>

#include "core/files.h"
#include "core/random.h"
#include "io/coordinates.h"
#include "io/mrc.h"
#include "tests/testing.h"

namespace emkit {
namespace {

using testing::FreshDir;
using testing::RunEmkitBinary;

// Two 160² micrographs (2 Å/px) with dark blobs of ~20 px and their coordinates as CSV.
std::string MakeData(const std::string& dir) {
  CreateDirectories(dir + "/mics");
  CreateDirectories(dir + "/coords");
  for (int m = 0; m < 2; ++m) {
    Rng rng(3, m);
    Image img(160, 160);
    std::vector<Coordinate> c;
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) {
        Coordinate p;
        p.x = 25 + 36 * i + rng.Uniform(-3, 3);
        p.y = 25 + 36 * j + rng.Uniform(-3, 3);
        c.push_back(p);
      }
    for (int y = 0; y < 160; ++y)
      for (int x = 0; x < 160; ++x) {
        double v = rng.Normal(0, 0.5);
        for (const auto& p : c) v -= std::exp(-std::pow(std::hypot(x - p.x, y - p.y) / 8.0, 4));
        img(x, y) = static_cast<float>(v);
      }
    MrcWriteOptions o;
    o.pixel_size = 2;
    WriteMrc(dir + "/mics/m" + std::to_string(m) + ".mrc", img, o);
    WriteCoordinates(dir + "/coords/m" + std::to_string(m) + ".csv", c);
  }
  return dir;
}

const char* kSmall =
    " --diameter 40 --arch resnet8 --width 4 --epochs 1 --steps-per-epoch 3 --batch-size 4 --patch 64 --threads 1";

TEST(CnnCliTest, TrainWritesModelReportAndTorchScript) {
  const std::string d = MakeData(FreshDir("data"));
  auto r = RunEmkitBinary("train -i " + d + "/mics -c " + d + "/coords -o " + d + "/out --export-torchscript" + kSmall);
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* f : {"model.pt", "checkpoint.pt", "training_report.json", "training_curves.png",
                        "model.torchscript.pt", "emkit_train_options.toml", "emkit_train.done"})
    EXPECT_TRUE(FileExists(d + "/out/" + f)) << f;
  EXPECT_NE(r.out.find("best validation AP"), std::string::npos) << r.out;
  const std::string files = ReadTextFile(d + "/out/emkit_train.files");
  for (const char* f : {"model.pt\n", "checkpoint.pt\n", "cache/"}) EXPECT_NE(files.find(f), std::string::npos) << f;
  // A picker given the model of an unfinished training job (no .done) says so.
  std::filesystem::remove(d + "/out/emkit_train.done");
  r = RunEmkitBinary("pick --method cnn --model " + d + "/out/model.pt -i '" + d + "/mics/m0.mrc' -o " + d +
                     "/pick --threads 1");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("did not finish"), std::string::npos) << r.err;
}

// Not on a terminal (a pipeline job's log file), train reports its progress as log lines, at most
// every $EMKIT_PROGRESS_INTERVAL seconds (30 by default; 0 here: at every step), with the time
// left in the epoch and in the whole training; each epoch's line gives the training's ETA.
TEST(CnnCliTest, TrainLogsProgressLinesWhenNotOnATerminal) {
  const std::string d = MakeData(FreshDir("data"));
  auto r = testing::RunCommand("EMKIT_PROGRESS_INTERVAL=0 " + std::string(EMKIT_BINARY) + " train -i " + d +
                               "/mics -c " + d + "/coords -o " + d +
                               "/out --diameter 40 --arch resnet8 --width 4 --epochs 2 --steps-per-epoch 3 "
                               "--batch-size 4 --patch 64 --threads 1");
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string num = "[0-9.]+", dur = "[0-9.hms]+";
  // Steps 1 and 2 of each epoch: the time left in the epoch, and in the first also in the training.
  for (int s = 1; s <= 2; ++s) {
    const std::string pct = std::to_string(100 * s / 3);
    for (int e = 1; e <= 2; ++e) {
      // (The last epoch's total adds the validation after it, as long as the first epoch's took.)
      const std::string total = "( \\(total " + dur + "\\))" + (e == 1 ? "" : "?");
      const std::regex line("\\[info\\] epoch " + std::to_string(e) + "/2: " + std::to_string(s) + "/3 batches \\(" +
                            pct + "%\\), " + dur + ", ETA " + dur + total + ", loss " + num + "\\n");
      EXPECT_TRUE(std::regex_search(r.err, line)) << "epoch " << e << " step " << s << ":\n" << r.err;
    }
  }
  EXPECT_TRUE(
      std::regex_search(r.err, std::regex("\\[info\\] epoch 2/2: 3/3 batches \\(100%\\), " + dur + ", loss " + num)))
      << r.err;
  EXPECT_TRUE(std::regex_search(r.err, std::regex("\\[info\\] epoch 1/2: loss .*; training ETA " + dur + "\\)\\n")))
      << r.err;
  EXPECT_TRUE(std::regex_search(r.err, std::regex("\\[info\\] epoch 2/2: loss .* s\\)\\n"))) << r.err;
}

TEST(CnnCliTest, PickWithTheModelNeedsNothingElse) {
  const std::string d = MakeData(FreshDir("data"));
  auto r =
      RunEmkitBinary("train -i " + d + "/mics -c " + d + "/coords -o " + d + "/out --epochs 4 --steps-per-epoch 8" +
                     " --diameter 40 --arch resnet8 --width 8 --batch-size 8 --patch 64 --lr 3e-3 --threads 1");
  ASSERT_EQ(r.status, 0) << r.err;
  // No --diameter, no threshold, no preprocessing options: all come from the model.
  r = RunEmkitBinary("pick --method cnn --model " + d + "/out/model.pt -i '" + d + "/mics/*.mrc' -o " + d +
                     "/pick --overlays --threads 1");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(FileExists(d + "/pick/overlays/m0.png"));
  auto picks = ReadCoordinates(d + "/pick/m0_autopick.star");
  auto truth = ReadCoordinates(d + "/coords/m0.csv");
  ASSERT_FALSE(picks.empty());
  int near = 0;
  for (const auto& p : picks) {
    double best = 1e9;
    for (const auto& t : truth) best = std::min(best, std::hypot(p.x - t.x, p.y - t.y));
    near += best < 10;
  }
  EXPECT_GE(near, 12) << picks.size() << " picks";
  // The CNN's default border is the particle radius (10 px here; its threshold is calibrated so);
  // --border 0 lets picks reach the edge.
  auto edge = [&](const std::string& flags) {
    auto rr = RunEmkitBinary("pick --method cnn --model " + d + "/out/model.pt -i '" + d + "/mics/*.mrc' -o " + d +
                             "/pick_edge --threshold=-30 --threads 1 --overwrite" + flags);
    EXPECT_EQ(rr.status, 0) << rr.err;
    double m = 1e9;
    for (const auto& p : ReadCoordinates(d + "/pick_edge/m0_autopick.star"))
      m = std::min({m, p.x, p.y, 159 - p.x, 159 - p.y});
    return m;
  };
  EXPECT_GE(edge(""), 9.5);
  EXPECT_LT(edge(" --border 0"), 9.5);
  r = RunEmkitBinary("pick --method cnn -i '" + d + "/mics/*.mrc' -o " + d + "/pick2 --threads 1");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("--model"), std::string::npos) << r.err;
  r = RunEmkitBinary("pick --method cnn --model " + d + "/nothing.pt -i '" + d + "/mics/*.mrc' -o " + d + "/pick3");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("nothing.pt"), std::string::npos) << r.err;
}

TEST(CnnCliTest, TrainErrorsNameTheProblem) {
  const std::string d = MakeData(FreshDir("data"));
  std::filesystem::remove(d + "/coords/m1.csv");
  auto r = RunEmkitBinary("train -i " + d + "/mics -c " + d + "/coords -o " + d + "/out" + kSmall);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("m1.mrc"), std::string::npos) << r.err;
  EXPECT_FALSE(FileExists(d + "/out/model.pt"));
  r = RunEmkitBinary("train -i " + d + "/mics -c " + d + "/coords -o " + d + "/out2 --diameter 5000 --threads 1");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("diameter"), std::string::npos) << r.err;
  r = RunEmkitBinary("train -i " + d + "/mics -c " + d + "/coords -o " + d + "/out3 --device cuda" + kSmall);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("cuda"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace emkit
