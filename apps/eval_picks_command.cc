// emkit eval-picks: picks against ground truth (picker/evaluate.h), per micrograph and
// overall: JSON, a precision-recall CSV and a PR-curve PNG.
#include <cmath>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "apps/command_line.h"
#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "io/micrograph.h"
#include "picker/evaluate.h"
#include "picker/pick.h"
#include "picker/pr_plot.h"

namespace emkit {
namespace {

nlohmann::json MetricsJson(const PickMetrics& m) {
  return {{"picks", m.n_picks},
          {"truth", m.n_truth},
          {"true_positives", m.true_positives},
          {"precision", m.precision},
          {"recall", m.recall},
          {"f1", m.f1},
          {"average_precision", m.average_precision},
          {"best_f1", m.best_f1},
          {"best_f1_threshold", m.best_f1_threshold},
          {"mean_match_distance", m.mean_distance}};
}

}  // namespace

int RunEvalPicks(int argc, char** argv) {
  CLI::App app("Evaluate picks against ground truth: one-to-one matching within a radius, precision, recall, F1, AP",
               argv[0]);
  std::vector<std::string> picks_paths, labels;
  std::string truth_path, out;
  double radius = 0, diameter = 0;
  double threshold = -std::numeric_limits<double>::infinity();
  std::string picks_format = "auto", truth_format = "auto";
  CommonOptions common;
  AddInput(app, picks_paths,
           "Picks: folders of per-micrograph files or combined STARs; several sets (e.g. a CNN's and LoG's picks) "
           "share one PR plot and one table",
           "--picks")
      ->required();
  app.add_option("--truth", truth_path, "Truth: folder of per-micrograph files or a combined STAR")->required();
  app.add_option("--radius-px", radius, "Match radius (px of the micrographs); 0 = --diameter-px / 2")
      ->capture_default_str();
  AddDeprecatedOption(app, "--radius", "--radius-px", radius);
  app.add_option("--diameter-px", diameter, "Particle diameter (px of the micrographs), for the default radius")
      ->capture_default_str();
  AddDeprecatedOption(app, "--diameter", "--diameter-px", diameter);
  app.add_option("--threshold", threshold, "Picks with FOM >= threshold count (default: all)");
  app.add_option("--picks-format", picks_format, "auto, star, box, csv, topaz")->capture_default_str();
  app.add_option("--truth-format", truth_format, "auto, star, box, csv, topaz")->capture_default_str();
  app.add_option("--label", labels,
                 "Names of the pick sets in the plot and table, in the order of -i (default: their folder or file "
                 "names)")
      ->delimiter(',');
  AddOutput(app, out, "Output folder (eval.json, pr_curve.csv, pr_curve.png)")->required();
  std::vector<std::string> micrographs;
  double pixel_size = 0;
  app.add_option(
      "--micrographs", micrographs,
      "With these micrographs (STAR, files or globs) write overlays/<micrograph>.png: truth red, picks green");
  app.add_option("--pixel-size", pixel_size, "Micrograph pixel size for --micrographs (Å); only sets the binning")
      ->capture_default_str();
  bool overwrite = false;
  AddOverwriteOption(app, &overwrite);
  AddRangeChecks(app, {{"--radius-px", NonNegative()},
                       {"--radius", NonNegative()},
                       {"--diameter-px", NonNegative()},
                       {"--diameter", NonNegative()},
                       {"--pixel-size", NonNegative()}});
  AddCommonOptions(app, &common);
  if (int rc = ParseCommandLine(app, argc, argv); rc >= 0) return rc;
  ApplyCommonOptions(&common);
  if (radius <= 0) radius = diameter / 2;
  if (!(radius > 0)) throw InvalidInputError("give --radius-px or --diameter-px (pixels of the micrographs)");

  CoordinateIoOptions pio, tio;
  pio.format = ParseCoordinateFormat(picks_format);
  tio.format = ParseCoordinateFormat(truth_format);
  if (!labels.empty() && labels.size() != picks_paths.size())
    throw InvalidInputError("--label: " + std::to_string(labels.size()) + " name(s) for " +
                            std::to_string(picks_paths.size()) + " pick set(s) given with -i");
  const CoordinateCollection truth = ReadCoordinateCollection(truth_path, tio);
  // One evaluation per pick set, against the same truth.
  struct Set {
    std::string label, path;
    CoordinateCollection picks;
    PickMetrics metrics;
    nlohmann::json per = nlohmann::json::array();
    int unmatched = 0;
  };
  std::vector<Set> sets;
  for (std::size_t s = 0; s < picks_paths.size(); ++s) {
    Set set;
    set.path = picks_paths[s];
    set.label = labels.empty() ? Basename(picks_paths[s]) : labels[s];
    if (set.label.empty()) set.label = "picks";  // a path ending in '/'
    set.picks = ReadCoordinateCollection(set.path, pio);
    std::vector<std::vector<Coordinate>> p_all, t_all;
    for (std::size_t i = 0; i < truth.keys.size(); ++i) {
      const std::vector<Coordinate>* p = set.picks.Find(truth.keys[i]);
      if (!p) LOG_WARN(set.path << ": " << truth.keys[i] << ": no picks for this micrograph (counted as none)");
      p_all.push_back(p ? *p : std::vector<Coordinate>{});
      t_all.push_back(truth.coords[i]);
      nlohmann::json j = MetricsJson(EvaluatePicks(p_all.back(), t_all.back(), radius, threshold));
      j["micrograph"] = truth.keys[i];
      set.per.push_back(j);
    }
    for (const auto& k : set.picks.keys)
      if (!truth.Find(k)) ++set.unmatched;
    if (set.unmatched)
      LOG_WARN(set.path << ": " << set.unmatched << " micrograph(s) with picks but no truth were ignored");
    set.metrics = EvaluatePicks(p_all, t_all, radius, threshold);
    sets.push_back(std::move(set));
  }
  // The first set is the one of the single-set outputs (eval.json's overall, pr_curve.csv, overlays).
  const CoordinateCollection& picks = sets[0].picks;
  const PickMetrics& m = sets[0].metrics;
  const nlohmann::json& per = sets[0].per;
  const int unmatched = sets[0].unmatched;

  JobFolderOptions f;
  f.dir = out;
  f.inputs = picks_paths;
  f.inputs.push_back(truth_path);
  f.inputs.insert(f.inputs.end(), micrographs.begin(), micrographs.end());
  f.output_patterns = {"eval.json", "eval.md", "pr_curve.csv", "pr_curve.png", "overlays/*"};
  f.overwrite = overwrite;
  const std::unique_ptr<JobFolder> folder = OpenJobFolder(app, argc, argv, f);
  nlohmann::json doc = {{"radius_px", radius},
                        {"threshold", std::isfinite(threshold) ? nlohmann::json(threshold) : nlohmann::json("all")},
                        {"micrographs", truth.keys.size()},
                        {"ignored_micrographs_without_truth", unmatched},
                        {"ap_definition", "area under the stepwise PR curve: sum (R_n - R_n-1) P_n (sklearn)"},
                        {"overall", MetricsJson(m)},
                        {"per_micrograph", per}};
  if (sets.size() > 1) {
    doc["sets"] = nlohmann::json::array();
    for (const auto& s : sets)
      doc["sets"].push_back({{"label", s.label},
                             {"picks", s.path},
                             {"overall", MetricsJson(s.metrics)},
                             {"per_micrograph", s.per},
                             {"ignored_micrographs_without_truth", s.unmatched}});
  }
  WriteTextFile(JoinPath(out, "eval.json"), doc.dump(2) + "\n");
  std::ostringstream csv;
  // One set: threshold,precision,recall,f1; several: the set's label first.
  csv << (sets.size() > 1 ? "set," : "") << "threshold,precision,recall,f1\n";
  char buf[160];
  for (const auto& s : sets) {
    for (const auto& p : s.metrics.curve) {
      std::snprintf(buf, sizeof buf, "%.6g,%.6f,%.6f,%.6f\n", p.threshold, p.precision, p.recall, p.f1);
      csv << (sets.size() > 1 ? s.label + "," : "") << buf;
    }
  }
  WriteTextFile(JoinPath(out, "pr_curve.csv"), csv.str());
  if (!micrographs.empty()) {
    CreateDirectories(JoinPath(out, "overlays"));
    for (const auto& in : ListMicrographs(micrographs, pixel_size > 0 ? pixel_size : 1.0)) {
      const std::vector<Coordinate>* t = truth.Find(in.name);
      if (!t) continue;
      const Image mic = ReadMicrograph(in.path);
      PreprocessOptions po;  // for display: at most ~1024 px wide
      po.working_pixel_size = std::max(1.0, mic.nx() / 1024.0);
      po.lowpass_angstrom = 2.5 * po.working_pixel_size;
      const PreprocessedMicrograph pre = PreprocessMicrograph(mic, 1.0, po);
      std::vector<Coordinate> shown;
      if (const auto* p = picks.Find(in.name))
        for (const auto& c : *p)
          if (c.fom >= threshold) shown.push_back(c);
      WritePickOverlay(JoinPath(JoinPath(out, "overlays"), MicrographKey(in.name) + ".png"), pre, shown, radius, t);
    }
  }
  std::vector<PrCurve> curves;
  std::ostringstream md;
  md << "| set | micrographs | picks | truth | precision | recall | F1 | AP | best F1 (threshold) |\n"
     << "|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& s : sets) {
    const PickMetrics& sm = s.metrics;
    char legend[160];
    std::snprintf(legend, sizeof legend, "%s AP %.3f, best F1 %.3f", s.label.c_str(), sm.average_precision, sm.best_f1);
    curves.push_back({legend, sm.curve});
    std::snprintf(buf, sizeof buf, "| %zu | %d | %d | %.3f | %.3f | %.3f | %.3f | %.3f (%.4g) |\n", truth.keys.size(),
                  sm.n_picks, sm.n_truth, sm.precision, sm.recall, sm.f1, sm.average_precision, sm.best_f1,
                  sm.best_f1_threshold);
    md << "| " << s.label << " " << buf;
    std::printf(
        "%s%zu micrograph(s), %d picks, %d truth: precision %.3f recall %.3f F1 %.3f AP %.3f (best F1 %.3f at "
        "%.4g)\n",
        sets.size() > 1 ? (s.label + ": ").c_str() : "", truth.keys.size(), sm.n_picks, sm.n_truth, sm.precision,
        sm.recall, sm.f1, sm.average_precision, sm.best_f1, sm.best_f1_threshold);
  }
  WritePrCurvePng(JoinPath(out, "pr_curve.png"), curves, "radius " + std::to_string(int(std::lround(radius))) + " px");
  WriteTextFile(JoinPath(out, "eval.md"), md.str());
  folder->Complete();
  return 0;
}

EMKIT_REGISTER_COMMAND(RunEvalPicks, "eval-picks", "Evaluate picks against ground truth (precision, recall, F1, AP)");

}  // namespace emkit
