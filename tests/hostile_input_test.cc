// Hostile but realistic input, command by command: every case ends in a clear error naming the
// file and the item (or a warning naming what was done), never in a silent wrong result or a
// crash. Each test builds its own tiny data; the suite takes seconds.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "apps/command_line.h"
#include "core/files.h"
#include "core/random.h"
#include "io/coordinates.h"
#include "io/mrc.h"
#include "io/particles.h"
#include "io/star.h"
#include "tests/testing.h"

namespace emkit {
namespace {
using testing::RunEmkitBinary;
namespace fs = std::filesystem;

bool Has(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

// Raw float MRC (WriteMrc refuses NaN/Inf, which these tests need).
void WriteRawMrc(const std::string& path, const Image& img, double pixel_size) {
  unsigned char h[1024] = {0};
  auto put_i = [&](int word, int32_t v) { std::memcpy(h + 4 * word, &v, 4); };
  auto put_f = [&](int word, float v) { std::memcpy(h + 4 * word, &v, 4); };
  put_i(0, img.nx());
  put_i(1, img.ny());
  put_i(2, img.nz());
  put_i(3, 2);
  put_i(7, img.nx());
  put_i(8, img.ny());
  put_i(9, img.nz());
  put_f(10, static_cast<float>(pixel_size * img.nx()));
  put_f(11, static_cast<float>(pixel_size * img.ny()));
  put_f(12, static_cast<float>(pixel_size * img.nz()));
  for (int w : {13, 14, 15}) put_f(w, 90);
  put_i(16, 1);
  put_i(17, 2);
  put_i(18, 3);
  std::memcpy(h + 208, "MAP ", 4);
  h[212] = 0x44;
  h[213] = 0x44;
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(h), 1024);
  out.write(reinterpret_cast<const char*>(img.data()), static_cast<std::streamsize>(img.size() * sizeof(float)));
}

// n noisy particles (box px, 4 Å/px) with a blob; particles.star in RELION 3.1 with the CTF.
ParticleSet MakeParticles(const std::string& dir, int n, int box = 32, double pixel_size = 4) {
  Image stack(box, box, n);
  for (int i = 0; i < n; ++i) {
    Rng rng(3, i);
    for (int y = 0; y < box; ++y)
      for (int x = 0; x < box; ++x) {
        const double dx = x - box / 2 - (i % 3), dy = y - box / 2;
        stack(x, y, i) = static_cast<float>(rng.Normal() + 3 * std::exp(-(dx * dx + dy * dy) / 20.0));
      }
  }
  MrcWriteOptions o;
  o.pixel_size = pixel_size;
  o.kind = MrcKind::kStack;
  WriteMrc(dir + "/particles.mrcs", stack, o);
  ParticleSet set;
  OpticsGroup g;
  g.pixel_size = pixel_size;
  g.image_size = box;
  set.optics = {g};
  for (int i = 0; i < n; ++i) {
    Particle p;
    p.image_name = MakeImageName(i, dir + "/particles.mrcs");
    p.micrograph_name = "mic" + std::to_string(i % 2) + ".mrc";
    p.ctf.defocus_u = 15000 + 100 * i;
    p.ctf.defocus_v = 14500 + 100 * i;
    set.particles.push_back(p);
  }
  WriteParticles(dir + "/particles.star", set);
  return set;
}

const char* kClass2dFast = " --K 2 --iter 1 --psi-step 30 --offset-range 2 --offset-step 1 --threads 2 -q --no-png";

// A micrograph (MRC) of dark blobs on noise.
void MakeMicrograph(const std::string& path, int size, unsigned seed, double pixel_size = 4) {
  Image mic(size, size);
  Rng rng(seed, 0);
  for (auto& v : mic) v = static_cast<float>(rng.Normal());
  for (int k = 0; k < 9; ++k) {
    const int cx = 40 + (k % 3) * (size - 80) / 2, cy = 40 + (k / 3) * (size - 80) / 2;
    for (int y = -12; y <= 12; ++y)
      for (int x = -12; x <= 12; ++x) mic(cx + x, cy + y) -= static_cast<float>(3 * std::exp(-(x * x + y * y) / 40.0));
  }
  MrcWriteOptions o;
  o.pixel_size = pixel_size;
  CreateDirectories(ParentDir(path));
  WriteMrc(path, mic, o);
}

// A micrographs STAR (RELION 3.1) listing `names` (relative to `dir`), with or without the CTF.
void WriteMicrographsStar(const std::string& path, const std::vector<std::string>& names, bool ctf = true) {
  StarFile f;
  StarTable optics("optics");
  for (const char* l : {"rlnOpticsGroup", "rlnOpticsGroupName", "rlnAmplitudeContrast", "rlnSphericalAberration",
                        "rlnVoltage", "rlnMicrographPixelSize"})
    optics.AddColumn(l);
  optics.AddRow({"1", "opticsGroup1", "0.1", "2.7", "300", "4"});
  f.Add(optics);
  StarTable t("micrographs");
  t.AddColumn("rlnMicrographName");
  t.AddColumn("rlnOpticsGroup");
  if (ctf) t.AddColumn("rlnDefocusU"), t.AddColumn("rlnDefocusV");
  for (const auto& n : names) {
    std::vector<std::string> row = {n, "1"};
    if (ctf) row.push_back("15000"), row.push_back("15000");
    t.AddRow(row);
  }
  f.Add(t);
  WriteStar(path, f);
}

// ---- class2d ------------------------------------------------------------------------------

TEST(HostileInput, Class2dRefusesANanPixelNamingTheParticleAndLine) {
  const std::string dir = testing::FreshDir("c2d");
  MakeParticles(dir, 20);
  Image stack = ReadMrc(dir + "/particles.mrcs");
  stack(16, 16, 6) = std::numeric_limits<float>::quiet_NaN();  // particle 7, inside the mask
  stack(3, 4, 12) = std::numeric_limits<float>::infinity();    // particle 13
  WriteRawMrc(dir + "/particles.mrcs", stack, 4);
  const auto r = RunEmkitBinary("class2d --i " + dir + "/particles.star --o " + dir + "/out" + kClass2dFast);
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(Has(r.err, "000007@")) << r.err;
  EXPECT_TRUE(Has(r.err, "particles.star:")) << r.err;  // file:line of its row
  EXPECT_TRUE(Has(r.err, "NaN/Inf")) << r.err;
  EXPECT_TRUE(Has(r.err, "1 more particle")) << r.err;
  EXPECT_FALSE(fs::exists(dir + "/out/run_it001_model.star"));
}

TEST(HostileInput, Class2dBlamesNanReferencesOnTheReferences) {
  const std::string dir = testing::FreshDir("c2d");
  MakeParticles(dir, 10);
  Image refs(32, 32, 2);
  refs(5, 5, 1) = std::numeric_limits<float>::quiet_NaN();
  WriteRawMrc(dir + "/refs.mrcs", refs, 4);
  const auto r = RunEmkitBinary("class2d --i " + dir + "/particles.star --references " + dir + "/refs.mrcs --o " + dir +
                                "/out" + kClass2dFast);
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(Has(r.err, "refs.mrcs (--references)")) << r.err;
  EXPECT_FALSE(Has(r.err, "/out/")) << r.err;
}

TEST(HostileInput, Class2dWithTheCtfOnNeedsDefocus) {
  const std::string dir = testing::FreshDir("c2d");
  MakeParticles(dir, 10);
  StarFile f = ReadStar(dir + "/particles.star");
  StarTable* t = f.Find("particles");
  *t = testing::WithoutColumns(*t, [](const std::string& l) { return l == "rlnDefocusU" || l == "rlnDefocusV"; });
  WriteStar(dir + "/nodefocus.star", f);
  auto r = RunEmkitBinary("class2d --i " + dir + "/nodefocus.star --o " + dir + "/out" + kClass2dFast);
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(Has(r.err, "nodefocus.star")) << r.err;
  EXPECT_TRUE(Has(r.err, "rlnDefocusU")) << r.err;
  EXPECT_TRUE(Has(r.err, "--no-ctf")) << r.err;
  r = RunEmkitBinary("class2d --i " + dir + "/nodefocus.star --no-ctf --o " + dir + "/out" + kClass2dFast);
  EXPECT_EQ(r.status, 0) << r.err;
  // A placeholder defocus of 0 (what extract writes without a CTF) is no CTF either.
  ParticleSet set = ReadParticles(dir + "/particles.star");
  set.particles[3].ctf.defocus_u = set.particles[3].ctf.defocus_v = 0;
  WriteParticles(dir + "/zero.star", set);
  r = RunEmkitBinary("class2d --i " + dir + "/zero.star --o " + dir + "/out2" + kClass2dFast);
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(Has(r.err, "zero.star:")) << r.err;
  EXPECT_TRUE(Has(r.err, "000004@")) << r.err;
  EXPECT_TRUE(Has(r.err, "defocus 0")) << r.err;
}

// RELION 3.0 STAR without any pixel size: the stack's MRC header gives it, not a default 1 Å.
TEST(HostileInput, Class2dTakesThePixelSizeFromTheStackWithoutOptics) {
  const std::string dir = testing::FreshDir("c2d");
  const ParticleSet set = MakeParticles(dir, 12, 32, 4);
  StarFile f;
  StarTable t("");
  for (const char* l : {"rlnImageName", "rlnMicrographName", "rlnDefocusU", "rlnDefocusV"}) t.AddColumn(l);
  for (const auto& p : set.particles)
    t.AddRow({p.image_name, p.micrograph_name, FormatStarNumber(p.ctf.defocus_u), FormatStarNumber(p.ctf.defocus_v)});
  f.Add(t);
  WriteStar(dir + "/v30.star", f);
  EXPECT_DOUBLE_EQ(ReadParticles(dir + "/v30.star").optics[0].pixel_size, 4.0);
  auto r = RunEmkitBinary("class2d --i " + dir + "/v30.star --o " + dir + "/out" + kClass2dFast);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_DOUBLE_EQ(ReadParticles(dir + "/out/run_it001_data.star").optics[0].pixel_size, 4.0);
  // No pixel size anywhere (header cella 0): a clear error, not 1 Å.
  WriteRawMrc(dir + "/particles.mrcs", ReadMrc(dir + "/particles.mrcs"), 0);
  r = RunEmkitBinary("class2d --i " + dir + "/v30.star --o " + dir + "/out2" + kClass2dFast);
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(Has(r.err, "v30.star: no pixel size")) << r.err;
  EXPECT_TRUE(Has(r.err, "particles.mrcs")) << r.err;
}

TEST(HostileInput, Class2dRefusesAnImageSizeThatDisagreesWithTheStack) {
  const std::string dir = testing::FreshDir("c2d");
  ParticleSet set = MakeParticles(dir, 10);
  set.optics[0].image_size = 64;
  WriteParticles(dir + "/wrong.star", set);
  const auto r = RunEmkitBinary("class2d --i " + dir + "/wrong.star --o " + dir + "/out" + kClass2dFast);
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(Has(r.err, "wrong.star")) << r.err;
  EXPECT_TRUE(Has(r.err, "rlnImageSize 64")) << r.err;
  EXPECT_TRUE(Has(r.err, "32 px")) << r.err;
}

// ---- pick / extract -----------------------------------------------------------------------

// a/mic_0001.mrc and b/mic_0001.mrc: each keeps its own coordinates, stack and CTF.
TEST(HostileInput, SameMicrographNameInTwoFoldersStaysApart) {
  const std::string dir = testing::FreshDir("dup");
  MakeMicrograph(dir + "/a/mic_0001.mrc", 256, 1);
  MakeMicrograph(dir + "/b/mic_0001.mrc", 256, 2);
  WriteMicrographsStar(dir + "/mics.star", {"a/mic_0001.mrc", "b/mic_0001.mrc"});
  auto r = RunEmkitBinary("pick -i " + dir + "/mics.star --method log --diameter 80 --threshold 1 -o " + dir +
                          "/picks --threads 2 -q");
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_TRUE(FileExists(dir + "/picks/a/mic_0001_autopick.star"));
  ASSERT_TRUE(FileExists(dir + "/picks/b/mic_0001_autopick.star"));
  EXPECT_FALSE(FileExists(dir + "/picks/mic_0001_autopick.star"));
  // Extract: both micrographs, each with its own picks and stack.
  r = RunEmkitBinary("extract -i " + dir + "/mics.star -c " + dir + "/picks --box 32 -o " + dir + "/ex -q");
  ASSERT_EQ(r.status, 0) << r.err;
  const ParticleSet ex = ReadParticles(dir + "/ex/particles.star");
  const auto a = ReadCoordinates(dir + "/picks/a/mic_0001_autopick.star");
  const auto b = ReadCoordinates(dir + "/picks/b/mic_0001_autopick.star");
  ASSERT_GT(a.size(), 0u);
  ASSERT_GT(b.size(), 0u);
  std::size_t in_a = 0, in_b = 0;
  for (const auto& p : ex.particles) {
    const bool is_a = p.micrograph_name == "a/mic_0001.mrc";
    in_a += is_a, in_b += !is_a;
    EXPECT_TRUE(Has(p.image_name, is_a ? "/a/mic_0001.mrcs" : "/b/mic_0001.mrcs")) << p.image_name;
  }
  EXPECT_LE(in_a, a.size());
  EXPECT_LE(in_b, b.size());
  EXPECT_GT(in_a, 0u);
  EXPECT_GT(in_b, 0u);
  // The combined coordinates.star keeps them apart too.
  r = RunEmkitBinary("extract -i " + dir + "/mics.star -c " + dir + "/picks/coordinates.star --box 32 -o " + dir +
                     "/ex2 -q");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(ReadParticles(dir + "/ex2/particles.star").particles.size(), ex.particles.size());
  // Flat coordinates that cannot say which micrograph they belong to: refused, naming both.
  CreateDirectories(dir + "/flat");
  fs::copy_file(dir + "/picks/a/mic_0001_autopick.star", dir + "/flat/mic_0001_autopick.star");
  r = RunEmkitBinary("extract -i " + dir + "/mics.star -c " + dir + "/flat --box 32 -o " + dir + "/ex3 -q");
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(Has(r.err, "a/mic_0001.mrc")) << r.err;
  EXPECT_TRUE(Has(r.err, "b/mic_0001.mrc")) << r.err;
  EXPECT_FALSE(FileExists(dir + "/ex3/particles.star"));
}

TEST(HostileInput, DuplicateMicrographRowsNameBothLines) {
  const std::string dir = testing::FreshDir("duprows");
  MakeMicrograph(dir + "/m1.mrc", 128, 1);
  MakeMicrograph(dir + "/m2.mrc", 128, 2);
  WriteMicrographsStar(dir + "/mics.star", {"m1.mrc", "m2.mrc", "m1.mrc"});
  const std::string text = ReadTextFile(dir + "/mics.star");
  CreateDirectories(dir + "/c");
  WriteCoordinates(dir + "/c/m1.star", {{64, 64, 1, 0, 0, ""}});
  const auto r = RunEmkitBinary("extract -i " + dir + "/mics.star -c " + dir + "/c --box 32 -o " + dir + "/ex -q");
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(Has(r.err, "m1.mrc is listed twice")) << r.err;
  // Both lines: the first and the repeated row.
  int first = 0, again = 0, line = 1;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 7, "m1.mrc ") == 0 && (i == 0 || text[i - 1] == '\n')) (first ? again : first) = line;
    if (text[i] == '\n') ++line;
  }
  ASSERT_GT(again, 0);
  EXPECT_TRUE(Has(r.err, "mics.star:" + std::to_string(first))) << r.err;
  EXPECT_TRUE(Has(r.err, "mics.star:" + std::to_string(again))) << r.err;
}

TEST(HostileInput, ExtractChecksEveryMicrographBeforeExtractingAny) {
  const std::string dir = testing::FreshDir("exmissing");
  MakeMicrograph(dir + "/m1.mrc", 128, 1);
  WriteMicrographsStar(dir + "/mics.star", {"m1.mrc", "gone.mrc"});
  CreateDirectories(dir + "/c");
  WriteCoordinates(dir + "/c/m1.star", {{64, 64, 1, 0, 0, ""}});
  const auto r = RunEmkitBinary("extract -i " + dir + "/mics.star -c " + dir + "/c --box 32 -o " + dir + "/ex -q");
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(Has(r.err, "gone.mrc not found")) << r.err;
  EXPECT_FALSE(FileExists(dir + "/ex/Particles/m1.mrcs"));
}

TEST(HostileInput, TemplateCtfNeedsDefocus) {
  const std::string dir = testing::FreshDir("pickctf");
  MakeMicrograph(dir + "/m1.mrc", 128, 1);
  WriteMicrographsStar(dir + "/mics.star", {"m1.mrc"}, false);
  Image ref(16, 16);
  ref(8, 8) = 1;
  MrcWriteOptions o;
  o.pixel_size = 4;
  o.kind = MrcKind::kStack;
  WriteMrc(dir + "/refs.mrcs", ref, o);
  auto r = RunEmkitBinary("pick -i " + dir + "/mics.star --references " + dir + "/refs.mrcs --ctf --diameter 60 -o " +
                          dir + "/p -q");
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(Has(r.err, "mics.star:")) << r.err;
  EXPECT_TRUE(Has(r.err, "rlnDefocusU")) << r.err;
  EXPECT_TRUE(Has(r.err, "--ctf")) << r.err;
  r = RunEmkitBinary("pick -i " + dir + "/m1.mrc --references " + dir + "/refs.mrcs --ctf --diameter 60 -o " + dir +
                     "/p -q");
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(Has(r.err, "m1.mrc: no CTF")) << r.err;
}

TEST(HostileInput, MicrographPixelSizeFromTheHeaderWithoutOptics) {
  const std::string dir = testing::FreshDir("px");
  MakeMicrograph(dir + "/m1.mrc", 128, 1, 3.5);
  StarFile f;
  StarTable t("micrographs");
  t.AddColumn("rlnMicrographName");
  t.AddRow({"m1.mrc"});
  f.Add(t);
  WriteStar(dir + "/mics.star", f);
  EXPECT_DOUBLE_EQ(ReadMicrographs(dir + "/mics.star").optics[0].pixel_size, 3.5);
  CreateDirectories(dir + "/c");
  WriteCoordinates(dir + "/c/m1.star", {{64, 64, 1, 0, 0, ""}});
  const auto r = RunEmkitBinary("extract -i " + dir + "/mics.star -c " + dir + "/c --box 32 -o " + dir + "/ex -q");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_DOUBLE_EQ(ReadParticles(dir + "/ex/particles.star").optics[0].pixel_size, 3.5);
}

TEST(HostileInput, PickReadsAFolderOfMicrographs) {
  const std::string dir = testing::FreshDir("folder");
  MakeMicrograph(dir + "/mics/m1.mrc", 128, 1);
  MakeMicrograph(dir + "/mics/m2.mrc", 128, 2);
  CreateDirectories(dir + "/empty");
  auto r = RunEmkitBinary("pick -i " + dir + "/mics --method log --diameter 60 -o " + dir + "/p -q");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(FileExists(dir + "/p/m1_autopick.star"));
  EXPECT_TRUE(FileExists(dir + "/p/m2_autopick.star"));
  r = RunEmkitBinary("pick -i " + dir + "/empty --method log --diameter 60 -o " + dir + "/p2 -q");
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(Has(r.err, "holds no micrographs")) << r.err;
}

// RELION's rule: relative names are read from the working folder; a different file of the same
// name beside the STAR file is named in a warning.
TEST(HostileInput, RelativeNameInBothPlacesWarns) {
  const std::string dir = testing::FreshDir("rel");
  MakeMicrograph(dir + "/m1.mrc", 128, 1);
  MakeMicrograph(dir + "/sub/m1.mrc", 128, 2);
  WriteMicrographsStar(dir + "/sub/mics.star", {"m1.mrc"});
  CreateDirectories(dir + "/c");
  WriteCoordinates(dir + "/c/m1.star", {{64, 64, 1, 0, 0, ""}});
  auto r = testing::RunCommand("cd " + dir + " && " + std::string(EMKIT_BINARY) +
                               " extract -i sub/mics.star -c c --box 32 -o ex");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(Has(r.err, "m1.mrc exists both in the working folder and beside the STAR file")) << r.err;
  // The same file in both places (or only one of them): no warning.
  fs::copy_file(dir + "/m1.mrc", dir + "/sub/m1.mrc", fs::copy_options::overwrite_existing);
  r = testing::RunCommand("cd " + dir + " && " + std::string(EMKIT_BINARY) +
                          " extract -i sub/mics.star -c c --box 32 -o ex2");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(Has(r.err, "exists both")) << r.err;
}

TEST(HostileInput, NanReferenceMapForPicking) {
  const std::string dir = testing::FreshDir("refmap");
  MakeMicrograph(dir + "/m1.mrc", 128, 1);
  Image map(16, 16, 16);
  map(8, 8, 8) = std::numeric_limits<float>::quiet_NaN();
  WriteRawMrc(dir + "/map.mrc", map, 4);
  const auto r = RunEmkitBinary("pick -i " + dir + "/m1.mrc --reference-map " + dir + "/map.mrc --diameter 40 -o " +
                                dir + "/p -q");
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(Has(r.err, "map.mrc (--reference-map): 1 NaN/Inf")) << r.err;
}

// ---- simulate / train / info / eval-picks -------------------------------------------------

TEST(HostileInput, SimulateWithAnInfVoxelIsAnErrorNotACrash) {
  const std::string dir = testing::FreshDir("siminf");
  Image map(16, 16, 16);
  for (int z = 5; z < 11; ++z)
    for (int y = 5; y < 11; ++y)
      for (int x = 5; x < 11; ++x) map(x, y, z) = 1;
  map(2, 3, 4) = std::numeric_limits<float>::infinity();
  WriteRawMrc(dir + "/map.mrc", map, 4);
  const auto r = RunEmkitBinary("simulate particles --map " + dir + "/map.mrc --n 2 --out " + dir + "/s -q");
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(Has(r.err, "map.mrc (map): 1 NaN/Inf value(s), the first at x=2 y=3 z=4")) << r.err;
}

TEST(HostileInput, TrainRefusesAPatchLargerThanTheMicrographs) {
  const std::string dir = testing::FreshDir("patch");
  MakeMicrograph(dir + "/mics/m1.mrc", 256, 1);
  CreateDirectories(dir + "/coords");
  WriteCoordinates(dir + "/coords/m1.star", {{40, 40, 1, 0, 0, ""}, {128, 128, 1, 0, 0, ""}, {216, 216, 1, 0, 0, ""}});
  const auto r = RunEmkitBinary("train -i " + dir + "/mics -c " + dir + "/coords --diameter 100 --patch 4000 -o " +
                                dir + "/t --epochs 1 --steps-per-epoch 1 --valid-fraction 0 -q");
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(Has(r.err, "m1.mrc: --patch 4000 px is larger than this micrograph")) << r.err;
}

TEST(HostileInput, ANonModelFileGivesOneLineWithoutABacktrace) {
  const std::string dir = testing::FreshDir("model");
  MakeMicrograph(dir + "/m1.mrc", 128, 1);
  std::ofstream(dir + "/junk.pt") << "this is not a model";
  const auto r =
      RunEmkitBinary("pick --method cnn --model " + dir + "/junk.pt -i " + dir + "/m1.mrc -o " + dir + "/p -q");
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(Has(r.err, "junk.pt")) << r.err;
  EXPECT_FALSE(Has(r.err, "Exception raised from")) << r.err;
  EXPECT_FALSE(Has(r.err, "frame #")) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(HostileInput, InfoSaysNanAndEmpty) {
  const std::string dir = testing::FreshDir("info");
  Image nan(8, 8);
  for (auto& v : nan) v = std::numeric_limits<float>::quiet_NaN();
  WriteRawMrc(dir + "/nan.mrc", nan, 1);
  auto r = RunEmkitBinary("info " + dir + "/nan.mrc");
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(Has(r.out, "64 of 64 values are NaN/Inf")) << r.out;
  EXPECT_TRUE(Has(r.err, "nan.mrc: 64 NaN/Inf")) << r.err;
  std::ofstream(dir + "/empty.star") << "# nothing here\n";
  r = RunEmkitBinary("info " + dir + "/empty.star");
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(Has(r.err, "empty.star: empty STAR file")) << r.err;
}

// Every numeric option of every command refuses a value outside its range, naming the option
// (exit 2, before any work). The plugin's commands run in this process (loading LibTorch once
// instead of once per case); class2d and simulate, which live in the binary, run it.
TEST(HostileInput, NumericOptionsAreRangeChecked) {
  const std::string dir = testing::FreshDir("ranges");
  const std::string o = " -o " + dir + "/o";
  const std::string c2d = "class2d --i x.star --o " + dir + "/o";
  const std::string sp = "simulate particles --phantom asym --out " + dir + "/o";
  const std::string sm = "simulate micrographs --phantom asym --out " + dir + "/o";
  const std::string tr = "train -i m -c c --diameter 100" + o;
  const std::string ex = "extract -i m.star -c c --box 64" + o;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {c2d, "--K 0"},
      {c2d, "--iter 0"},
      {c2d, "--particle-diameter -1"},
      {c2d, "--tau2-fudge 0"},
      {c2d, "--psi-step -6"},
      {c2d, "--offset-range -1"},
      {c2d, "--offset-step 0"},
      {c2d, "--incr-size -5"},
      {c2d, "--initial-lowpass -1"},
      {c2d, "--chunk -1"},
      {c2d, "--threads -1"},
      {sp, "--n 0"},
      {sp, "--box -1"},
      {sp, "--snr -1"},
      {sp, "--pixel-size -4"},
      {sp, "--diameter 0"},
      {sp, "--voltage 0"},
      {sp, "--q 2"},
      {sp, "--defocus-min -1"},
      {sp, "--defocus-max -1"},
      {sp, "--astigmatism -1"},
      {sp, "--cs -1"},
      {sp, "--bfactor -1"},
      {sm, "--n 0"},
      {sm, "--size 1000000"},
      {sm, "--nx -1"},
      {sm, "--ny 1000000"},
      {sm, "--particles -1"},
      {sm, "--density 2"},
      {sm, "--particle-diameter -1"},
      {sm, "--touching -0.5"},
      {sm, "--carbon-edge 3"},
      {sm, "--ice-blobs -1"},
      {sm, "--aggregates -1"},
      {sm, "--hard-negative-fraction -1"},
      {sm, "--bfactor-min -1"},
      {sm, "--bfactor-max -1"},
      {sm, "--noise-colour 2"},
      {sm, "--mtf -1"},
      {sm, "--ice-gradient -1"},
      {"pick -i m.mrc" + o, "--pixel-size -4"},
      {"pick -i m.mrc" + o, "--diameter -1"},
      {"pick -i m.mrc" + o, "--min-distance -1"},
      {"pick -i m.mrc" + o, "--border -10"},
      {"pick -i m.mrc" + o, "--max-picks -1"},
      {"pick -i m.mrc" + o, "--working-pixel-size -1"},
      {"pick -i m.mrc" + o, "--binned-diameter-px 0"},
      {"pick -i m.mrc" + o, "--highpass -1"},
      {"pick -i m.mrc" + o, "--local-norm -1"},
      {"pick -i m.mrc" + o, "--views 0"},
      {"pick -i m.mrc" + o, "--reference-pixel-size -1"},
      {"pick -i m.mrc" + o, "--lowpass -1"},
      {"pick -i m.mrc" + o, "--psi-step 0"},
      {"pick -i m.mrc" + o, "--diameter-min -1"},
      {"pick -i m.mrc" + o, "--diameter-max -1"},
      {"pick -i m.mrc" + o, "--log-scales 0"},
      {"pick -i m.mrc" + o, "--log-texture-weight -1"},
      {"pick -i m.mrc" + o, "--tile 0"},
      {"pick -i m.mrc" + o, "--tta 3"},
      {"pick -i m.mrc" + o, "--threads -2"},
      {"extract -i m.star -c c" + o, "--box -64"},
      {ex, "--rescale -2"},
      {ex, "--bg-radius -1"},
      {ex, "--image-height -1"},
      {"eval-picks --picks p --truth t" + o, "--diameter-px -50"},
      {"eval-picks --picks p --truth t" + o, "--radius-px -1"},
      {"eval-picks --picks p --truth t --radius-px 5" + o, "--pixel-size -1"},
      {tr, "--patch 100000"},
      {tr, "--batch-size 0"},
      {tr, "--width 0"},
      {tr, "--epochs 0"},
      {tr, "--steps-per-epoch 0"},
      {tr, "--lr -1"},
      {tr, "--weight-decay -1"},
      {tr, "--valid-fraction 2"},
      {tr, "--binned-diameter-px 1000"},
      {tr, "--pixel-size -1"},
      {tr, "--diameter-px -1"},
      {tr, "--highpass -1"},
      {tr, "--expected-particles -1"},
      {tr, "--slack 0"},
      {tr, "--focal -1"},
      {tr, "--label-radius 0"},
      {tr, "--positive-fraction 2"},
      {tr, "--hard-negative-fraction -2"},
      {tr, "--stop-after-epoch -1"},
      {tr, "--tta 5"},
      {tr, "--score-smoothing -1"},
      {tr, "--weight-average 2"},
      {"postprocess -i h_half1.mrc" + o, "--pixel-size -1"},
      {"postprocess -i h_half1.mrc" + o, "--autob-lowres 0"},
      {"postprocess -i h_half1.mrc" + o, "--autob-highres -1"},
      {"postprocess -i h_half1.mrc" + o, "--randomize-at-fsc 1.5"},
      {"postprocess -i h_half1.mrc" + o, "--randomize-at -10"},
      {"postprocess -i h_half1.mrc" + o, "--mask-lowpass -1"},
      {"postprocess -i h_half1.mrc" + o, "--mask-edge -2"},
      {"postprocess -i h_half1.mrc" + o, "--width_mask_edge -2"},
      {"postprocess -i h_half1.mrc" + o, "--extend_inimask 5000"},
      {"postprocess -i h_half1.mrc" + o, "--mtf-pixel-size -1"},
  };
  const std::string binary = EMKIT_BINARY;
  setenv("EMKIT_PLUGIN", (binary.substr(0, binary.rfind('/') + 1) + "libemkit_plugin.so").c_str(), 0);
  for (const auto& [command, bad] : cases) {
    const std::string option = bad.substr(0, bad.find(' '));
    const std::string name = command.substr(0, command.find(' '));
    int status = 0;
    std::string err;
    if (name == "class2d" || name == "simulate") {
      const auto r = RunEmkitBinary(command + " " + bad);
      status = r.status;
      err = r.err;
    } else {
      std::vector<std::string> words = {"emkit"};
      std::istringstream in(command + " " + bad);
      for (std::string w; in >> w;) words.push_back(w);
      std::vector<char*> argv;
      for (auto& w : words) argv.push_back(w.data());
      ::testing::internal::CaptureStderr();
      status = RunEmkit(static_cast<int>(argv.size()), argv.data());
      err = ::testing::internal::GetCapturedStderr();
    }
    EXPECT_EQ(status, 2) << command << " " << bad << ": " << err;
    EXPECT_TRUE(Has(err, option)) << command << " " << bad << ": " << err;
  }
}

}  // namespace
}  // namespace emkit
