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
  std::string picks_path, truth_path, out, label;
  double radius = 0, diameter = 0;
  double threshold = -std::numeric_limits<double>::infinity();
  std::string picks_format = "auto", truth_format = "auto";
  CommonOptions common;
  AddInput(app, picks_path, "Picks: folder of per-micrograph files or a combined STAR", "--picks")->required();
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
  app.add_option("--label", label, "Name of the picks in the plot legend")->capture_default_str();
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
  const CoordinateCollection picks = ReadCoordinateCollection(picks_path, pio);
  const CoordinateCollection truth = ReadCoordinateCollection(truth_path, tio);
  std::vector<std::vector<Coordinate>> p_all, t_all;
  nlohmann::json per = nlohmann::json::array();
  for (std::size_t i = 0; i < truth.keys.size(); ++i) {
    const std::vector<Coordinate>* p = picks.Find(truth.keys[i]);
    if (!p) LOG_WARN(truth.keys[i] << ": no picks for this micrograph (counted as none)");
    p_all.push_back(p ? *p : std::vector<Coordinate>{});
    t_all.push_back(truth.coords[i]);
    nlohmann::json j = MetricsJson(EvaluatePicks(p_all.back(), t_all.back(), radius, threshold));
    j["micrograph"] = truth.keys[i];
    per.push_back(j);
  }
  int unmatched = 0;
  for (const auto& k : picks.keys)
    if (!truth.Find(k)) ++unmatched;
  if (unmatched) LOG_WARN(unmatched << " micrograph(s) with picks but no truth were ignored");
  const PickMetrics m = EvaluatePicks(p_all, t_all, radius, threshold);

  JobFolderOptions f;
  f.dir = out;
  f.inputs = {picks_path, truth_path};
  f.inputs.insert(f.inputs.end(), micrographs.begin(), micrographs.end());
  f.output_patterns = {"eval.json", "pr_curve.csv", "pr_curve.png", "overlays/*"};
  f.overwrite = overwrite;
  const std::unique_ptr<JobFolder> folder = OpenJobFolder(app, argc, argv, f);
  nlohmann::json doc = {{"radius_px", radius},
                        {"threshold", std::isfinite(threshold) ? nlohmann::json(threshold) : nlohmann::json("all")},
                        {"micrographs", truth.keys.size()},
                        {"ignored_micrographs_without_truth", unmatched},
                        {"ap_definition", "area under the stepwise PR curve: sum (R_n - R_n-1) P_n (sklearn)"},
                        {"overall", MetricsJson(m)},
                        {"per_micrograph", per}};
  WriteTextFile(JoinPath(out, "eval.json"), doc.dump(2) + "\n");
  std::ostringstream csv;
  csv << "threshold,precision,recall,f1\n";
  char buf[160];
  for (const auto& p : m.curve) {
    std::snprintf(buf, sizeof buf, "%.6g,%.6f,%.6f,%.6f\n", p.threshold, p.precision, p.recall, p.f1);
    csv << buf;
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
  char legend[160];
  std::snprintf(legend, sizeof legend, "%s AP %.3f, best F1 %.3f", label.empty() ? "picks" : label.c_str(),
                m.average_precision, m.best_f1);
  WritePrCurvePng(JoinPath(out, "pr_curve.png"), {{legend, m.curve}},
                  "radius " + std::to_string(int(std::lround(radius))) + " px");
  std::printf(
      "%zu micrograph(s), %d picks, %d truth: precision %.3f recall %.3f F1 %.3f AP %.3f (best F1 %.3f at %.4g)\n",
      truth.keys.size(), m.n_picks, m.n_truth, m.precision, m.recall, m.f1, m.average_precision, m.best_f1,
      m.best_f1_threshold);
  folder->Complete();
  return 0;
}

EMKIT_REGISTER_COMMAND(RunEvalPicks, "eval-picks", "Evaluate picks against ground truth (precision, recall, F1, AP)");

}  // namespace emkit
