#include "pipeline/relion_job.h"

#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "io/star.h"

namespace emkit {
namespace {

// RELION's job type numbers (pipeline_jobs.h).
const std::map<int, std::pair<std::string, std::string>> kTypes = {{4, {"AutoPick", "pick"}},
                                                                   {5, {"Extract", "extract"}},
                                                                   {8, {"Class2D", "class2d"}},
                                                                   {9, {"Class3D", "class3d"}},
                                                                   {10, {"Refine3D", "refine3d"}}};

// Options of every RELION job that do not change its results (or that emkit sets otherwise).
const std::set<std::string> kIgnoredEverywhere = {"queuename",
                                                  "qsub",
                                                  "qsubscript",
                                                  "min_dedicated",
                                                  "use_gpu",
                                                  "gpu_ids",
                                                  "nr_pool",
                                                  "do_parallel_discio",
                                                  "do_preread_images",
                                                  "scratch_dir",
                                                  "do_combine_thru_disc",
                                                  "shrink",
                                                  "allow_coarser",
                                                  "do_pad1",
                                                  "skip_gridding"};

class Reader {
 public:
  Reader(const StarTable& values, std::string path) : path_(std::move(path)) {
    for (std::size_t i = 0; i < values.num_rows(); ++i) {
      const std::string key = values.Get(i, "rlnJobOptionVariable");
      // RELION quotes empty values and values with spaces ("7.5 degrees").
      std::string v = values.Get(i, "rlnJobOptionValue");
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      values_[key] = v;
      where_[key] = values.Where(i);
    }
  }
  bool Has(const std::string& key) const { return values_.count(key) > 0; }
  std::string Get(const std::string& key) {
    used_.insert(key);
    const auto it = values_.find(key);
    return it == values_.end() ? std::string() : it->second;
  }
  bool Yes(const std::string& key) { return Get(key) == "Yes"; }
  double Number(const std::string& key, double fallback) {
    const std::string v = Get(key);
    if (v.empty()) return fallback;
    try {
      std::size_t end = 0;
      const double d = std::stod(v, &end);
      return d;
    } catch (const std::exception&) {
      Refuse(key, "not a number");
      return fallback;
    }
  }
  // Maps key to --name when set (and not `skip`).
  void Map(const std::string& key, const std::string& name, const std::string& skip = "") {
    const std::string v = Get(key);
    if (!v.empty() && v != skip) Add(name, v);
  }
  // Maps key only when it is not RELION's default (which then means emkit's default).
  void MapChanged(const std::string& key, const std::string& name, double relion_default) {
    if (Has(key) && Number(key, relion_default) != relion_default) Map(key, name);
    Ignore(key);
  }
  void Add(const std::string& name, const std::string& value) { options_.push_back({name, {value}, 0}); }
  void Flag(const std::string& name) { options_.push_back({name, {}, 0}); }
  // An option emkit does not have: an error unless it has RELION's default.
  void Default(const std::string& key, const std::string& relion_default) {
    const std::string v = Get(key);
    if (!Has(key) || v == relion_default) return;
    if (!v.empty() && !relion_default.empty()) {
      try {
        if (std::stod(v) == std::stod(relion_default)) return;
      } catch (const std::exception&) {
      }
    }
    Refuse(key, "not supported by emkit (only RELION's default '" + relion_default + "')");
  }
  void Ignore(const std::string& key) { used_.insert(key); }
  void Refuse(const std::string& key, const std::string& why) {
    errors_.push_back(where_[key] + ": " + key + " = '" + values_[key] + "': " + why);
  }
  // Unknown keys are errors too; throws with every error.
  std::vector<ScheduleOption> Finish(const std::string& job) {
    for (const auto& [key, value] : values_)
      if (!used_.count(key) && !kIgnoredEverywhere.count(key))
        errors_.push_back(where_[key] + ": " + key + " = '" + value + "': not a RELION 3.1 " + job + " option");
    if (!errors_.empty()) {
      std::string text;
      for (const auto& e : errors_) text += (text.empty() ? "" : "; ") + e;
      throw InvalidInputError(path_ + ": RELION " + job + " job options emkit cannot run: " + text);
    }
    return options_;
  }

 private:
  std::string path_;
  std::map<std::string, std::string> values_, where_;
  std::set<std::string> used_;
  std::vector<ScheduleOption> options_;
  std::vector<std::string> errors_;
};

std::string Num(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

// RELION's angular sampling ("7.5 degrees") as a HEALPix order (60 deg = 0, 30 = 1, 15 = 2, ...).
int HealpixOrder(const std::string& sampling) {
  const double degrees = std::atof(sampling.c_str());
  if (degrees <= 0) return 2;
  return std::max(0, static_cast<int>(std::lround(std::log2(60.0 / degrees))));
}

void AutoPick(Reader& r) {
  r.Map("fn_input_autopick", "in");
  if (r.Number("angpix", -1) > 0) r.Map("angpix", "pixel-size");
  const bool log = r.Yes("do_log");
  const bool ref3d = r.Yes("do_ref3d");
  if (log) {
    r.Add("method", "log");
    const double lo = r.Number("log_diam_min", 200), hi = r.Number("log_diam_max", 250);
    r.Add("diameter", Num(0.5 * (lo + hi)));
    r.Add("diameter-min", Num(lo));
    r.Add("diameter-max", Num(hi));
    if (r.Yes("log_invert")) r.Add("contrast", "bright");
    r.Default("log_maxres", "20");
    r.Default("log_adjust_thr", "0");
    r.Default("log_upper_thr", "999");
    for (const char* k :
         {"fn_refs_autopick", "fn_ref3d_autopick", "ref3d_symmetry", "ref3d_sampling", "particle_diameter", "lowpass",
          "highpass", "angpix_ref", "psi_sampling_autopick", "do_invert_refs", "do_ctf_autopick",
          "do_ignore_first_ctfpeak_autopick", "threshold_autopick"})
      r.Ignore(k);
  } else {
    r.Add("method", "template");
    if (ref3d) {
      r.Map("fn_ref3d_autopick", "reference-map");
      r.Default("ref3d_symmetry", "C1");
      // Views on the whole sphere at RELION's sampling: 4 pi / (step in radians)^2.
      const double step = std::atof(r.Get("ref3d_sampling").c_str()) * M_PI / 180;
      if (step > 0) r.Add("views", std::to_string(std::max(1L, std::lround(4 * M_PI / (step * step)))));
      r.Ignore("fn_refs_autopick");
    } else {
      r.Map("fn_refs_autopick", "references");
      r.Ignore("fn_ref3d_autopick");
      r.Ignore("ref3d_symmetry");
      r.Ignore("ref3d_sampling");
    }
    const double diameter = r.Number("particle_diameter", -1);
    if (diameter > 0)
      r.Add("diameter", Num(diameter));
    else
      r.Refuse("particle_diameter", "emkit's template matching needs the particle diameter (Mask diameter)");
    r.Map("lowpass", "lowpass");
    if (r.Number("highpass", -1) > 0) r.Map("highpass", "highpass");
    if (r.Number("angpix_ref", -1) > 0) r.Map("angpix_ref", "reference-pixel-size");
    r.Map("psi_sampling_autopick", "psi-step");
    r.Default("do_invert_refs", "Yes");  // emkit's references are white, as RELION's
    if (r.Yes("do_ctf_autopick")) r.Flag("ctf");
    r.Default("do_ignore_first_ctfpeak_autopick", "No");
    r.Map("threshold_autopick", "threshold");
    for (const char* k :
         {"log_diam_min", "log_diam_max", "log_invert", "log_maxres", "log_adjust_thr", "log_upper_thr"})
      r.Ignore(k);
  }
  r.MapChanged("mindist_autopick", "min-distance", 100);
  r.MapChanged("maxstddevnoise_autopick", "max-stddev-noise", 1.1);
  r.MapChanged("minavgnoise_autopick", "min-avg-noise", -999);
  r.Default("do_write_fom_maps", "No");
  r.Default("do_read_fom_maps", "No");
  r.Default("do_pick_helical_segments", "No");
  r.Default("do_amyloid", "No");
  for (const char* k : {"helical_tube_outer_diameter", "helical_nr_asu", "helical_rise", "helical_tube_kappa_max",
                        "helical_tube_length_min"})
    r.Ignore(k);
}

void Extract(Reader& r) {
  r.Map("star_mics", "in");
  // RELION names coordinates by a suffix file (coords_suffix_autopick.star) in the picking job's
  // folder; emkit reads the folder.
  std::string coords = r.Get("coords_suffix");
  const std::string base = Basename(coords);
  if (base.rfind("coords_suffix", 0) == 0 || base == "coordinates.star") coords = ParentDir(coords);
  if (!coords.empty()) r.Add("coords", coords);
  r.Default("do_reextract", "No");
  for (const char* k :
       {"fndata_reextract", "do_reset_offsets", "do_recenter", "recenter_x", "recenter_y", "recenter_z"})
    r.Ignore(k);
  r.Map("extract_size", "box");
  if (r.Yes("do_invert")) r.Flag("invert-contrast");
  if (r.Has("do_norm") && !r.Yes("do_norm")) r.Flag("no-normalise");  // absent: RELION's Yes
  const double bg = r.Number("bg_diameter", -1);
  if (bg > 0) r.Add("bg-radius", Num(bg / 2));
  r.Default("white_dust", "-1");
  r.Default("black_dust", "-1");
  if (r.Yes("do_rescale")) r.Map("rescale", "rescale");
  r.Ignore("rescale");
  r.Default("do_extract_helix", "No");
  for (const char* k : {"helical_tube_outer_diameter", "helical_bimodal_angular_priors", "do_extract_helical_tubes",
                        "do_cut_into_segments", "helical_nr_asu", "helical_rise"})
    r.Ignore(k);
}

// Class2D, Class3D and Refine3D: relion_refine's own spellings, which emkit's commands take.
void Refine(Reader& r, int type) {
  r.Map("fn_img", "i");
  r.Map("fn_cont", "continue");
  if (r.Has("do_ctf_correction") && !r.Yes("do_ctf_correction")) r.Flag("no-ctf");  // absent: RELION's Yes
  if (r.Yes("ctf_intact_first_peak")) r.Flag("ctf_intact_first_peak");
  if (type != 10) {
    r.Map("nr_classes", "K");
    r.Map("tau_fudge", "tau2_fudge");
    r.Map("nr_iter", "iter");
    r.Default("do_fast_subsets", "No");
    // "Limit resolution E-step to (A)": relion_refine's --strict_highres_exp, which class2d and
    // class3d take.
    if (r.Number("highres_limit", -1) > 0)
      r.Map("highres_limit", "strict_highres_exp");
    else
      r.Default("highres_limit", "-1");
    r.Default("dont_skip_align", "Yes");
  }
  r.Map("particle_diameter", "particle_diameter");
  if (r.Yes("do_zero_mask")) r.Flag("zero_mask");
  r.Map("offset_range", "offset_range");
  if (type == 8) {
    r.Map("offset_step", "offset_step");  // class2d scores the GUI's (oversampled) steps directly
    r.Map("psi_sampling", "psi_step");
    r.Default("do_helix", "No");
    for (const char* k :
         {"helical_tube_outer_diameter", "do_bimodal_psi", "range_psi", "do_restrict_xoff", "helical_rise"})
      r.Ignore(k);
    return;
  }
  // As the GUI runs relion_refine: twice the GUI's offset step, which the oversampling halves.
  if (r.Has("offset_step")) r.Add("offset_step", Num(2 * r.Number("offset_step", 1)));
  r.Map("fn_ref", "ref");
  if (type == 10)
    r.Map("fn_mask", "solvent_mask");
  else
    r.Default("fn_mask", "");  // no solvent mask in emkit class3d
  if (r.Yes("ref_correct_greyscale")) r.Flag("firstiter_cc");
  r.Map("ini_high", "ini_high");
  r.Map("sym_name", "sym");
  // emkit multiplies every reference by the particles' CTFs, as RELION 4 does by default. RELION 3.1's
  // "No" (its GUI's default) scores the first iteration against references without the CTF, which
  // leaves CTF-modulated particles unaligned; both values run as RELION 4 runs them.
  r.Ignore("ctf_corrected_ref");
  // The GUI's sampling is the oversampled step: relion_refine, run from the GUI, scores the order
  // below and oversamples (--oversampling 1); class3d and refine3d do the same.
  const int oversampled = 1;
  r.Add("healpix_order", std::to_string(std::max(0, HealpixOrder(r.Get("sampling")) - oversampled)));
  if (type == 9) r.Add("oversampling", "1");  // refine3d always oversamples
  r.Default("relax_sym", "");
  if (type == 9) {
    r.Default("do_local_ang_searches", "No");
    r.Ignore("sigma_angles");
  } else {
    r.Add("auto_local_healpix_order",
          std::to_string(std::max(1, HealpixOrder(r.Get("auto_local_sampling")) - oversampled)));
    r.Default("do_solvent_fsc", "No");  // emkit postprocess corrects the FSC for the mask
    r.Default("auto_faster", "No");
  }
  r.Default("do_helix", "No");
  for (const char* k : {"helical_tube_inner_diameter", "helical_tube_outer_diameter", "range_rot", "range_tilt",
                        "range_psi", "do_apply_helical_symmetry", "helical_nr_asu", "helical_twist_initial",
                        "helical_rise_initial", "helical_z_percentage", "do_local_search_helical_symmetry",
                        "helical_twist_min", "helical_twist_max", "helical_twist_inistep", "helical_rise_min",
                        "helical_rise_max", "helical_rise_inistep", "helical_range_distance", "keep_tilt_prior_fixed"})
    r.Ignore(k);
}

}  // namespace

RelionJobFile ReadRelionJobStar(const std::string& path) {
  const StarFile f = ReadStar(path);
  const StarTable& head = f.Require("job");
  const long type = head.GetInt(0, "rlnJobType");
  const auto it = kTypes.find(static_cast<int>(type));
  if (it == kTypes.end())
    throw InvalidInputError(head.Where(0) + ": rlnJobType " + std::to_string(type) +
                            ": emkit runs RELION's AutoPick (4), Extract (5), Class2D (8), Class3D (9) and "
                            "Refine3D (10) jobs");
  // rlnJobIsContinue is not read: RELION sets it for scheduled jobs too; fn_cont continues.
  Reader r(f.Require("joboptions_values"), path);
  RelionJobFile job;
  job.type = it->second.second;
  job.ranks = static_cast<int>(std::max(1.0, r.Number("nr_mpi", 1)));
  job.threads = static_cast<int>(std::max(0.0, r.Number("nr_threads", 0)));
  r.Default("do_queue", "No");
  r.Default("other_args", "");
  if (type == 4)
    AutoPick(r);
  else if (type == 5)
    Extract(r);
  else
    Refine(r, static_cast<int>(type));
  job.options = r.Finish(it->second.first);
  return job;
}

}  // namespace emkit
