// RELION 3.1 job.star files read as emkit jobs: mapped options, ignored ones, and an error
// naming every option emkit cannot run; RelionCoordinateKey; default_pipeline.star.
#include "pipeline/relion_job.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "core/files.h"
#include "io/star.h"
#include "pipeline/relion_pipeline.h"

namespace emkit {
namespace {
namespace fs = std::filesystem;

// A job.star as RELION 3.1 writes it.
std::string JobStar(int type, const std::vector<std::pair<std::string, std::string>>& values) {
  std::string s = "\n# version 30001\n\ndata_job\n\n_rlnJobType " + std::to_string(type) +
                  "\n_rlnJobIsContinue 0\n\n# version 30001\n\ndata_joboptions_values\n\nloop_\n"
                  "_rlnJobOptionVariable #1\n_rlnJobOptionValue #2\n";
  for (const auto& [k, v] : values)
    s += k + " " + (v.empty() || v.find(' ') != std::string::npos ? "\"" + v + "\"" : v) + "\n";
  return s;
}

std::string Write(const std::string& name, const std::string& text) {
  const std::string dir = ::testing::TempDir() + "/emkit_relion_job";
  fs::create_directories(dir);
  WriteTextFile(dir + "/" + name, text);
  return dir + "/" + name;
}

std::string Options(const RelionJobFile& j) {
  std::string s;
  for (const auto& o : j.options) {
    s += " --" + o.name;
    for (const auto& v : o.values) s += " " + v;
  }
  return s;
}

const std::vector<std::pair<std::string, std::string>> kCommon = {{"do_queue", "No"},      {"min_dedicated", "1"},
                                                                  {"other_args", ""},      {"qsub", "qsub"},
                                                                  {"qsubscript", "x.csh"}, {"queuename", "openmpi"}};

TEST(RelionJob, AutoPickLogMapsToEmkitPick) {
  auto v = kCommon;
  v.insert(v.end(), {{"fn_input_autopick", "CtfFind/job003/micrographs_ctf.star"},
                     {"do_log", "Yes"},
                     {"log_diam_min", "150"},
                     {"log_diam_max", "250"},
                     {"log_invert", "No"},
                     {"log_maxres", "20"},
                     {"log_adjust_thr", "0"},
                     {"log_upper_thr", "999"},
                     {"fn_refs_autopick", ""},
                     {"particle_diameter", "-1"},
                     {"mindist_autopick", "100"},
                     {"maxstddevnoise_autopick", "1.1"},
                     {"minavgnoise_autopick", "-999"},
                     {"do_amyloid", "No"},
                     {"helical_rise", "-1"},
                     {"nr_mpi", "3"},
                     {"use_gpu", "No"}});
  const RelionJobFile j = ReadRelionJobStar(Write("autopick.star", JobStar(4, v)));
  EXPECT_EQ(j.type, "pick");
  EXPECT_EQ(j.ranks, 3);
  EXPECT_EQ(
      Options(j),
      " --in CtfFind/job003/micrographs_ctf.star --method log --diameter 200 --diameter-min 150 --diameter-max 250");
}

TEST(RelionJob, TemplateAndExtractAndClass2d) {
  auto v = kCommon;
  v.insert(v.end(), {{"fn_input_autopick", "m.star"},
                     {"do_log", "No"},
                     {"do_ref3d", "No"},
                     {"fn_refs_autopick", "Class2D/job008/run_it025_classes.mrcs"},
                     {"particle_diameter", "180"},
                     {"lowpass", "20"},
                     {"psi_sampling_autopick", "5"},
                     {"do_invert_refs", "Yes"},
                     {"do_ctf_autopick", "Yes"},
                     {"threshold_autopick", "0.3"},
                     {"mindist_autopick", "90"}});
  RelionJobFile j = ReadRelionJobStar(Write("template.star", JobStar(4, v)));
  EXPECT_EQ(Options(j),
            " --in m.star --method template --references Class2D/job008/run_it025_classes.mrcs --diameter 180 "
            "--lowpass 20 --psi-step 5 --ctf --threshold 0.3 --min-distance 90");

  v = kCommon;
  v.insert(v.end(), {{"star_mics", "m.star"},
                     {"coords_suffix", "AutoPick/job006/coords_suffix_autopick.star"},
                     {"do_reextract", "No"},
                     {"extract_size", "64"},
                     {"do_invert", "Yes"},
                     {"do_norm", "Yes"},
                     {"bg_diameter", "-1"},
                     {"white_dust", "-1"},
                     {"black_dust", "-1"},
                     {"do_rescale", "No"},
                     {"rescale", "128"},
                     {"nr_mpi", "1"}});
  j = ReadRelionJobStar(Write("extract.star", JobStar(5, v)));
  EXPECT_EQ(j.type, "extract");
  EXPECT_EQ(Options(j), " --in m.star --coords AutoPick/job006 --box 64 --invert-contrast");

  v = kCommon;
  v.insert(v.end(), {{"fn_img", "Extract/job007/particles.star"},
                     {"fn_cont", ""},
                     {"do_ctf_correction", "Yes"},
                     {"ctf_intact_first_peak", "No"},
                     {"nr_classes", "50"},
                     {"tau_fudge", "2"},
                     {"nr_iter", "25"},
                     {"do_fast_subsets", "No"},
                     {"particle_diameter", "200"},
                     {"do_zero_mask", "Yes"},
                     {"highres_limit", "-1"},
                     {"dont_skip_align", "Yes"},
                     {"psi_sampling", "6"},
                     {"offset_range", "5"},
                     {"offset_step", "1"},
                     {"nr_pool", "3"},
                     {"nr_threads", "4"},
                     {"scratch_dir", ""}});
  j = ReadRelionJobStar(Write("class2d.star", JobStar(8, v)));
  EXPECT_EQ(j.type, "class2d");
  EXPECT_EQ(j.threads, 4);
  EXPECT_EQ(Options(j),
            " --i Extract/job007/particles.star --K 50 --tau2_fudge 2 --iter 25 --particle_diameter 200 --zero_mask "
            "--offset_range 5 --offset_step 1 --psi_step 6");
  for (auto& kv : v)
    if (kv.first == "highres_limit") kv.second = "8";  // "Limit resolution E-step to (A)"
  j = ReadRelionJobStar(Write("class2d_limit.star", JobStar(8, v)));
  EXPECT_NE(Options(j).find(" --iter 25 --strict_highres_exp 8 --particle_diameter"), std::string::npos) << Options(j);
}

TEST(RelionJob, Class3dUsesRelionSpellings) {
  auto v = kCommon;
  v.insert(v.end(), {{"fn_img", "p.star"},
                     {"fn_ref", "ref.mrc"},
                     {"fn_mask", ""},
                     {"ref_correct_greyscale", "Yes"},
                     {"ctf_corrected_ref", "No"},
                     {"ini_high", "40"},
                     {"sym_name", "D2"},
                     {"nr_classes", "3"},
                     {"tau_fudge", "4"},
                     {"nr_iter", "10"},
                     {"highres_limit", "12"},
                     {"particle_diameter", "200"},
                     {"do_zero_mask", "Yes"},
                     {"sampling", "7.5 degrees"},
                     {"do_local_ang_searches", "No"},
                     {"sigma_angles", "5"}});
  RelionJobFile j = ReadRelionJobStar(Write("class3d.star", JobStar(9, v)));
  EXPECT_EQ(j.type, "class3d");
  EXPECT_EQ(Options(j),
            " --i p.star --K 3 --tau2_fudge 4 --iter 10 --strict_highres_exp 12 --particle_diameter 200 --zero_mask "
            "--ref ref.mrc "
            "--firstiter_cc --ini_high 40 --sym D2 --healpix_order 2 --oversampling 1");
  v.push_back({"fn_mask", "mask.mrc"});
  v.push_back({"do_local_ang_searches", "Yes"});
  try {
    ReadRelionJobStar(Write("class3d_bad.star", JobStar(9, v)));
    FAIL();
  } catch (const InvalidInputError& e) {
    EXPECT_NE(std::string(e.what()).find("fn_mask = 'mask.mrc'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("do_local_ang_searches = 'Yes'"), std::string::npos) << e.what();
  }
}

TEST(RelionJob, Refine3dMapsSamplingAndMask) {
  auto v = kCommon;
  v.insert(v.end(), {{"fn_img", "p.star"},
                     {"fn_ref", "ref.mrc"},
                     {"fn_mask", "mask.mrc"},
                     {"ref_correct_greyscale", "No"},
                     {"ctf_corrected_ref", "Yes"},
                     {"ini_high", "60"},
                     {"sym_name", "C1"},
                     {"particle_diameter", "200"},
                     {"sampling", "7.5 degrees"},
                     {"auto_local_sampling", "1.8 degrees"},
                     {"offset_range", "5"},
                     {"offset_step", "1"},
                     {"do_solvent_fsc", "No"}});
  RelionJobFile j = ReadRelionJobStar(Write("refine3d.star", JobStar(10, v)));
  EXPECT_EQ(j.type, "refine3d");
  // RELION's GUI gives the oversampled steps: 7.5 degrees is --healpix_order 2, 1.8 is order 4, a 1 px offset
  // step is --offset_step 2.
  EXPECT_EQ(Options(j),
            " --i p.star --particle_diameter 200 --offset_range 5 --offset_step 2 --ref ref.mrc "
            "--solvent_mask mask.mrc --ini_high 60 --sym C1 --healpix_order 2 --auto_local_healpix_order 4");
  v.back() = {"do_solvent_fsc", "Yes"};  // a mask-corrected FSC inside refine3d: emkit postprocess does it
  EXPECT_THROW(ReadRelionJobStar(Write("refine3d_bad.star", JobStar(10, v))), InvalidInputError);
}

TEST(RelionJob, NamesEveryOptionEmkitCannotRun) {
  auto v = kCommon;
  v.insert(v.end(), {{"fn_img", "p.star"},
                     {"nr_classes", "10"},
                     {"do_fast_subsets", "Yes"},
                     {"do_helix", "Yes"},
                     {"made_up_option", "1"}});
  v.push_back({"do_queue", "Yes"});
  try {
    ReadRelionJobStar(Write("bad.star", JobStar(8, v)));
    FAIL() << "no error";
  } catch (const InvalidInputError& e) {
    const std::string m = e.what();
    for (const char* k : {"do_fast_subsets = 'Yes'", "do_helix = 'Yes'",
                          "made_up_option = '1': not a RELION 3.1 Class2D option", "do_queue = 'Yes'"})
      EXPECT_NE(m.find(k), std::string::npos) << k << " in " << m;
    EXPECT_NE(m.find("bad.star:"), std::string::npos) << m;  // with the line
  }
  EXPECT_THROW(ReadRelionJobStar(Write("motioncorr.star", JobStar(1, kCommon))), InvalidInputError);
}

TEST(RelionJob, CoordinateKeysAsRelionFindsThem) {
  EXPECT_EQ(RelionCoordinateKey("MotionCorr/job002/Movies/mic_001.mrc"), "Movies/mic_001");
  EXPECT_EQ(RelionCoordinateKey("Simulate/job001/micrographs/mic_0001.mrc"), "micrographs/mic_0001");
  EXPECT_EQ(RelionCoordinateKey("Micrographs/a.b/mic.tif"), "Micrographs/a.b/mic");
  EXPECT_EQ(RelionCoordinateKey("mic.mrc"), "mic");
}

TEST(RelionJob, ScheduleTakesAJobStar) {
  auto v = kCommon;
  v.insert(v.end(), {{"fn_input_autopick", "Simulate/job001/micrographs.star"},
                     {"do_log", "Yes"},
                     {"log_diam_min", "100"},
                     {"log_diam_max", "140"},
                     {"nr_mpi", "1"}});
  const std::string star = Write("job.star", JobStar(4, v));
  const std::string schedule = Write("s.toml",
                                     "[[job]]\nname = \"sim\"\ntype = \"simulate micrographs\"\n"
                                     "[[job]]\nrelion_job = \"job.star\"\nthreads = 3\n[job.options]\n"
                                     "diameter-max = 150\n");
  const Schedule s = ReadSchedule(schedule);
  ASSERT_EQ(s.jobs.size(), 2u);
  EXPECT_EQ(s.jobs[1].type, "pick");
  EXPECT_EQ(s.jobs[1].folder, "Pick/job002");
  EXPECT_EQ(s.jobs[1].threads, 3);
  EXPECT_EQ(s.jobs[1].depends, std::vector<std::string>{"sim"});
  std::string args;
  for (const auto& a : JobArguments(s.jobs[1])) args += " " + a;
  EXPECT_EQ(args,
            " pick --in Simulate/job001/micrographs.star --method log --diameter 120 --diameter-min 100 "
            "--diameter-max 150 -o Pick/job002");
  WriteTextFile(schedule, "[[job]]\nrelion_job = \"job.star\"\ntype = \"extract\"\n");
  try {
    ReadSchedule(schedule);
    FAIL();
  } catch (const InvalidInputError& e) {
    EXPECT_NE(std::string(e.what()).find("s.toml:2: type 'extract' but job.star is a pick job"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace emkit
