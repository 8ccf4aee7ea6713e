// The CNN picker on real micrographs (EMPIAR-10028 PNGs with incomplete labels): a short PU
// training run on the train split must find the labelled ribosomes of the test split.
#include <nlohmann/json.hpp>

#include "core/files.h"
#include "tests/testing.h"

namespace emkit {
namespace {

TEST(CnnRealSlowTest, PuTrainingFindsLabelledRibosomesOnTheTestSplit) {
  EMKIT_REQUIRE_SHARED_DATA(data);
  const std::string d = data + "/micrographs/empiar10028";
  const std::string out = testing::FreshDir("cnn_real");
  auto r = testing::RunEmkitBinary(
      "train -i " + d + "/train/images -c " + d + "/train/coords --valid-micrographs " + d +
      "/valid/images --valid-coords " + d +
      "/valid/coords --pixel-size 5.4 --diameter 308 --expected-particles 150 --arch resnet8 --width 16"
      " --epochs 2 --steps-per-epoch 15 --threads 2 -q -o " +
      out + "/train");
  ASSERT_EQ(r.status, 0) << r.err;
  r = testing::RunEmkitBinary("pick --method cnn --model " + out + "/train/model.pt -i '" + d +
                              "/test/images/*.png' --pixel-size 5.4 --threads 2 -q -o " + out + "/pick");
  ASSERT_EQ(r.status, 0) << r.err;
  r = testing::RunEmkitBinary("eval-picks --picks " + out + "/pick --truth " + d +
                              "/test/coords --radius-px 28.5 -q -o " + out + "/eval");
  ASSERT_EQ(r.status, 0) << r.err;
  auto e = nlohmann::json::parse(ReadTextFile(out + "/eval/eval.json"))["overall"];
  // Labels are incomplete, so precision is only a lower bound; recall is what must hold.
  EXPECT_GT(e["recall"].get<double>(), 0.8) << e.dump();
  EXPECT_GT(e["precision"].get<double>(), 0.4) << e.dump();
}

}  // namespace
}  // namespace emkit
