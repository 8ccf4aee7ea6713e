#include "io/star.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "io/particles.h"
#include "tests/testing.h"

namespace emkit {

static std::string ErrorOf(const std::string& text) {
  try {
    ParseStar(text, "bad.star");
  } catch (const IoError& e) {
    return e.what();
  }
  return "";
}

TEST(Star, ParsesPairsLoopsQuotesCommentsAndLists) {
  const std::string text =
      "# version 30001\n"
      "data_general\n"
      "_rlnNrClasses 5  # a comment\n"
      "_rlnName 'two words'\n"
      "\n"
      "data_items\n"
      "loop_\n"
      "_rlnA #1\n"
      "_rlnB #2\n"
      "1 \"x y\"\n"
      "2 [1,2,3]\n"
      "# trailing comment\n";
  StarFile f = ParseStar(text, "t.star");
  EXPECT_EQ(f.version, 30001);
  ASSERT_EQ(f.blocks.size(), 2u);
  const StarTable& g = f.Require("general");
  EXPECT_FALSE(g.is_loop());
  EXPECT_EQ(g.GetInt(0, "rlnNrClasses"), 5);
  EXPECT_EQ(g.Get(0, "rlnName"), "two words");
  const StarTable& t = f.Require("items");
  EXPECT_EQ(t.num_rows(), 2u);
  EXPECT_EQ(t.Get(0, "rlnB"), "x y");
  EXPECT_EQ(t.Get(1, "rlnB"), "[1,2,3]");
  // Round trip without loss.
  StarFile again = ParseStar(FormatStar(f), "again.star");
  EXPECT_EQ(again.Require("items").Get(0, "rlnB"), "x y");
  EXPECT_EQ(again.Require("general").Get(0, "rlnName"), "two words");
  EXPECT_EQ(FormatStar(again), FormatStar(f));
}

// Found by the fuzzer: a value with ' followed by whitespace was wrapped in '...' (it has a "),
// so it came back cut short. Quotes are now chosen so the value survives, or writing refuses.
TEST(Star, QuotedValuesWithInnerQuotesRoundTrip) {
  StarFile f = ParseStar(std::string("data_x\n_rlnA \"'\f#'67\"\"\"m \"'\f\f'6\"\"\n_rlnB \"it's a\"\n"), "q.star");
  const std::string a = f.Require("x").Get(0, "rlnA");
  EXPECT_EQ(a, std::string("'\f#'67\"\"\"m \"'\f\f'6\""));
  StarFile again = ParseStar(FormatStar(f), "again.star");
  EXPECT_EQ(again.Require("x").Get(0, "rlnA"), a);
  EXPECT_EQ(again.Require("x").Get(0, "rlnB"), "it's a");
  StarTable t("y", true);
  t.AddColumn("rlnC");
  t.AddRow({"a\" b' c"});
  StarFile bad;
  bad.blocks.push_back(t);
  EXPECT_THROW(FormatStar(bad), InvalidInputError);
}

// Found by the fuzzer: a quoted value "[_" was written bare and read back as the start of a
// [ ... ] list running into the next value. Only a value that is exactly one list stays bare.
TEST(Star, ValuesStartingWithABracketRoundTrip) {
  StarTable t("x", true);
  for (const char* l : {"rlnA", "rlnB", "rlnC", "rlnD"}) t.AddColumn(l);
  t.AddRow({"[_", "&]", "[a]b", "[1, 2]"});
  StarFile f;
  f.blocks.push_back(t);
  const std::string text = FormatStar(f);
  EXPECT_NE(text.find("[1, 2]"), std::string::npos) << text;  // a list stays a bare list
  StarFile again = ParseStar(text, "again.star");
  EXPECT_EQ(again.Require("x").row(0), t.row(0)) << text;
}

// Found by the fuzzer: a quoted first token ('_N e "') was taken as a label with a space in it.
// Quoted tokens are values: the writer quotes values that look like _labels, data_ or loop_.
TEST(Star, QuotedKeywordsAreValues) {
  StarFile f = ParseStar("data_x\nloop_\n_rlnA #1\n_rlnB #2\n'_x' 1\n\"loop_\" 2\n'data_y' 3\n", "k.star");
  const StarTable& t = f.Require("x");
  ASSERT_EQ(t.num_rows(), 3u);
  EXPECT_EQ(t.Get(0, "rlnA"), "_x");
  EXPECT_EQ(t.Get(1, "rlnA"), "loop_");
  EXPECT_EQ(t.Get(2, "rlnA"), "data_y");
  EXPECT_EQ(FormatStar(ParseStar(FormatStar(f), "again.star")), FormatStar(f));
  EXPECT_NE(ErrorOf("data_\n'_N e \"' x\n").find("without a label"), std::string::npos);
}

TEST(Star, ErrorsNameFileLineAndField) {
  EXPECT_NE(ErrorOf("data_x\nloop_\n_rlnA #1\n_rlnB #2\n1 2\n3\n").find("bad.star:6"), std::string::npos);
  EXPECT_NE(ErrorOf("data_x\nloop_\n_rlnA #1\n_rlnA #2\n").find("duplicate column _rlnA"), std::string::npos);
  EXPECT_NE(ErrorOf("data_x\n_rlnA \"open\n").find("unterminated"), std::string::npos);
  EXPECT_NE(ErrorOf("1 2 3\n").find("bad.star:1"), std::string::npos);
  StarFile f = ParseStar("data_x\nloop_\n_rlnA #1\nabc\n", "f.star");
  try {
    f.Require("x").GetDouble(0, "rlnA");
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("f.star:4"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("_rlnA"), std::string::npos);
  }
  try {
    f.Require("x").GetDouble(0, "rlnMissing");
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("no column _rlnMissing"), std::string::npos);
  }
  EXPECT_THROW(ReadStar("/nonexistent/file.star"), IoError);
}

TEST(Star, ReadsEveryRealFile) {
  EMKIT_REQUIRE_SHARED_DATA(data);
  int n = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(data)) {
    if (e.path().extension() != ".star") continue;
    SCOPED_TRACE(e.path().string());
    StarFile f = ReadStar(e.path().string());
    EXPECT_FALSE(f.blocks.empty());
    StarFile again = ParseStar(FormatStar(f), "again");
    ASSERT_EQ(again.blocks.size(), f.blocks.size());
    for (std::size_t b = 0; b < f.blocks.size(); ++b) {
      ASSERT_EQ(again.blocks[b].labels(), f.blocks[b].labels());
      ASSERT_EQ(again.blocks[b].num_rows(), f.blocks[b].num_rows());
      for (std::size_t r = 0; r < f.blocks[b].num_rows(); ++r) ASSERT_EQ(again.blocks[b].row(r), f.blocks[b].row(r));
    }
    ++n;
  }
  EXPECT_GE(n, 7);
}

TEST(Particles, Relion30And31And5) {
  EMKIT_REQUIRE_SHARED_DATA(data);
  ParticleSet v30 = ReadParticles(data + "/star/empiar_10076_7.star");
  ASSERT_EQ(v30.particles.size(), 7u);
  EXPECT_NEAR(v30.Optics(1).pixel_size, 5.0 * 1e4 / 38168, 1e-6);
  EXPECT_NEAR(v30.particles[0].ctf.defocus_u, 15301.1, 1e-6);
  EXPECT_NEAR(v30.particles[0].ctf.amplitude_contrast, 0.07, 1e-9);
  ParticleSet v31 = ReadParticles(data + "/star/relion31.6opticsgroups.star");
  EXPECT_EQ(v31.optics.size(), 6u);
  ParticleSet v5 = ReadParticles(data + "/star/relion5.star");
  EXPECT_NEAR(v5.Optics(1).pixel_size, 0.89, 1e-9);
  EXPECT_NEAR(v5.particles[0].ctf.voltage_kv, 100, 1e-9);
  ParticleSet c2d = ReadParticles(data + "/relion/class2d/particles.star");
  EXPECT_EQ(c2d.particles.size(), 500u);
  int index;
  std::string path;
  ParseImageName(c2d.particles[1].image_name, data + "/relion/class2d", &index, &path, "x");
  EXPECT_EQ(index, 1);
  EXPECT_TRUE(std::filesystem::exists(path)) << path;
}

TEST(Particles, WriteKeepsExtraColumnsAndConvertsOrigins) {
  const std::string dir = testing::FreshDir("particles");
  const std::string text =
      "data_\nloop_\n_rlnImageName #1\n_rlnDefocusU #2\n_rlnOriginX #3\n_rlnOriginY #4\n_rlnMagnification #5\n"
      "_rlnDetectorPixelSize #6\n_rlnGroupNumber #7\n"
      "1@a.mrcs 10000 2 -3 10000 2.0 7\n";
  { std::ofstream(dir + "/p30.star") << text; }
  ParticleSet s = ReadParticles(dir + "/p30.star");
  EXPECT_NEAR(s.Optics(1).pixel_size, 2.0, 1e-9);
  EXPECT_NEAR(s.particles[0].origin_x_angst, 4.0, 1e-9);
  EXPECT_NEAR(s.particles[0].origin_y_angst, -6.0, 1e-9);
  WriteParticles(dir + "/p31.star", s);
  StarFile f = ReadStar(dir + "/p31.star");
  EXPECT_EQ(f.version, 30001);
  EXPECT_EQ(f.Require("particles").Get(0, "rlnGroupNumber"), "7");
  EXPECT_FALSE(f.Require("particles").Has("rlnOriginX"));
  ParticleSet back = ReadParticles(dir + "/p31.star");
  EXPECT_NEAR(back.particles[0].origin_y_angst, -6.0, 1e-9);
}

}  // namespace emkit
