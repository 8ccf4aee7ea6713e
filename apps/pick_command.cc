// emkit pick: classical particle picking. A method is one ScoreMapper chosen by name from
// kMethods below; everything after scoring (peaks, thresholds, bad-region rejection, STAR
// and overlay outputs) is shared (picker/pick.h). Adding a method = one table entry plus its
// options in PickCli.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "apps/command_line.h"
#include "core/error.h"
#include "core/files.h"
#include "core/geometry.h"
#include "core/log.h"
#include "core/projector.h"
#include "io/micrograph.h"
#include "io/mrc.h"
#include "models/cnn_picker.h"
#include "picker/log_picker.h"
#include "picker/pick.h"
#include "picker/template_matcher.h"
#include "pipeline/relion_pipeline.h"

namespace emkit {
namespace {

struct PickCli {
  std::vector<std::string> micrographs;
  double pixel_size = 0;
  std::string out;
  std::string method = "template";
  std::string contrast = "dark";
  double threshold = NAN;        // fixed; NaN = the method's default (adaptive for log)
  double threshold_floor = NAN;  // of the adaptive threshold; NaN = the method's
  bool overlays = false;
  PickOptions pick;
  // template
  std::string references, reference_map;
  std::vector<int> classes;  // 1-based sections of --references to use; empty = all
  double reference_pixel_size = 0;
  int views = 10;
  bool write_references = false;
  TemplateOptions tmpl;
  // LoG
  LogOptions log;
  // CNN: the model file carries the preprocessing, the diameter and the default threshold.
  std::string model, device = "cpu";
  int tile = 1024;
  int tta = 0;                  // CNN test-time augmentation; 0 = the model's
  double score_smoothing = -1;  // CNN score-map blur (diameters); < 0 = the model's
  double border = -1;           // Å; < 0: the particle radius
  std::shared_ptr<CnnPicker> cnn;
};

// Even directions on the sphere (Fibonacci spiral) as (rot, tilt), psi 0.
std::vector<Euler> SphereViews(int n) {
  std::vector<Euler> out;
  const double golden = M_PI * (3 - std::sqrt(5.0));
  for (int i = 0; i < n; ++i) {
    const double z = n == 1 ? 1 : 1 - 2.0 * (i + 0.5) / n;
    Euler e;
    e.tilt = std::acos(std::clamp(z, -1.0, 1.0)) * 180 / M_PI;
    e.rot = std::fmod(i * golden * 180 / M_PI, 360.0);
    out.push_back(e);
  }
  return out;
}

std::unique_ptr<ScoreMapper> MakeTemplate(PickCli& c, int threads) {
  ImageStack refs;
  double px = c.reference_pixel_size;
  if (!c.references.empty() == !c.reference_map.empty())
    throw InvalidInputError(
        "--method template needs exactly one of --references (2D .mrcs) or --reference-map (3D .mrc)");
  if (!c.references.empty()) {
    MrcHeader h;
    Image stack = ReadMrcFinite(c.references, "--references", &h);
    if (px <= 0) px = h.PixelSize();
    if (px <= 0) throw InvalidInputError(c.references + ": no pixel size in the header; give --reference-pixel-size");
    if (c.classes.empty())
      for (int z = 0; z < stack.nz(); ++z) refs.push_back(stack.Section(z));
    for (int k : c.classes) {
      if (k < 1 || k > stack.nz())
        throw InvalidInputError(c.references + ": --classes " + std::to_string(k) + " is not a section (1.." +
                                std::to_string(stack.nz()) + ")");
      refs.push_back(stack.Section(k - 1));
    }
    c.tmpl.reference_numbers = c.classes;
  } else {
    if (!c.classes.empty()) throw InvalidInputError("--classes selects sections of --references (a 2D stack)");
    MrcHeader h;
    Volume map = ReadMrcFinite(c.reference_map, "--reference-map", &h);
    if (px <= 0) px = h.PixelSize();
    if (px <= 0)
      throw InvalidInputError(c.reference_map + ": no pixel size in the header; give --reference-pixel-size");
    if (map.nz() != map.nx() || map.ny() != map.nx())
      throw InvalidInputError(c.reference_map + ": the reference map must be a cube");
    if (c.views < 1) throw InvalidInputError("--views must be >= 1");
    Projector projector(map, px);
    for (const auto& e : SphereViews(c.views)) refs.push_back(projector.Project(e, map.nx(), px));
    LOG_INFO("projected " << refs.size() << " references from " << c.reference_map);
  }
  if (c.write_references) {
    CreateDirectories(c.out);
    MrcWriteOptions o;
    o.pixel_size = px;
    o.kind = MrcKind::kStack;
    WriteMrcStack(JoinPath(c.out, "references.mrcs"), refs, o);
  }
  c.tmpl.diameter = c.pick.diameter;
  c.tmpl.threads = threads;
  return std::make_unique<TemplateScoreMapper>(std::move(refs), px, c.tmpl);
}

std::unique_ptr<ScoreMapper> MakeLog(PickCli& c, int threads) {
  if (c.log.diameter_min <= 0) c.log.diameter_min = 0.8 * c.pick.diameter;
  if (c.log.diameter_max <= 0) c.log.diameter_max = 1.2 * c.pick.diameter;
  c.log.threads = threads;
  return std::make_unique<LogScoreMapper>(c.log);
}

// Loads the CNN model before the options are checked: it supplies the diameter (unless given),
// the preprocessing it was trained with and, unless --threshold is given, its threshold.
void PrepareCnn(PickCli& c, int threads) {
  if (c.model.empty()) throw InvalidInputError("--method cnn needs --model FILE (written by emkit train)");
  // A training job writes its best model so far after each epoch, and its .done marker at the end.
  const std::string train_dir = ParentDir(c.model);
  if (FileExists(JobFolder::FilesList(train_dir, "train")) && !FileExists(JobFolder::DoneMarker(train_dir, "train")))
    LOG_WARN(c.model << ": its training job did not finish (no emkit_train.done beside it): the best model of the "
                        "epochs done so far");
  c.cnn = std::make_shared<CnnPicker>(LoadCnnPicker(c.model, c.device, threads, c.tile, c.tta, c.score_smoothing));
  // The defaults training chose the model's threshold with (CnnPickOptions); options given here win.
  const PickOptions defaults = CnnPickOptions(*c.cnn, threads);
  if (!(c.pick.diameter > 0)) c.pick.diameter = defaults.diameter;
  c.pick.preprocess = defaults.preprocess;
  if (std::isnan(c.threshold)) c.pick.threshold = defaults.threshold;
}

std::unique_ptr<ScoreMapper> MakeCnn(PickCli& c, int) { return std::move(c.cnn->mapper); }

struct PickMethod {
  const char* name;
  bool adaptive;             // default threshold adaptive per micrograph (picker/peaks.h)
  double default_threshold;  // in the method's score units: the floor when adaptive
  std::function<std::unique_ptr<ScoreMapper>(PickCli&, int threads)> make;
};
const std::vector<PickMethod> kMethods = {
    {"template", false, 0.28, MakeTemplate},  // normalised cross-correlation
    {"log", true, 2.2, MakeLog},              // robust standard deviations of the LoG response
    {"cnn", false, 0.0, MakeCnn},             // log-odds; the model's stored threshold replaces 0
};

}  // namespace

int RunPick(int argc, char** argv) {
  CLI::App app(
      "Pick particles with one of three methods: template matching (--method template: 2D references or "
      "projections of a 3D map), Laplacian of Gaussian blobs (--method log: only a diameter) or a trained CNN "
      "(--method cnn: a model from emkit train)",
      argv[0]);
  PickCli c;
  CommonOptions common;
  std::string names;
  for (const auto& m : kMethods) names += std::string(names.empty() ? "" : "|") + m.name;
  AddInput(app, c.micrographs, "Micrographs STAR (with CTF), or .mrc/.png/.tif files or globs", "--micrographs");
  std::string in_mics;  // RELION External job
  app.add_option("--in_mics", in_mics,
                 "Micrographs STAR, run as a RELION External job: RELION's coordinate files, output nodes and exit "
                 "marker");
  app.add_option("--pixel-size", c.pixel_size, "Micrograph pixel size (Å); 0 = from the STAR or MRC header")
      ->capture_default_str();
  AddOutput(app, c.out, "Output folder")->required();
  app.add_option("--method", c.method, "Picking method: " + names)->capture_default_str();
  app.add_option("--diameter", c.pick.diameter, "Particle diameter (Å); required except with --method cnn (model's)");
  app.add_option("--threshold", c.threshold,
                 "Fixed score threshold; default: adaptive per micrograph for log (--threshold-floor), 0.28 NCC for "
                 "template, the model's for cnn");
  app.add_option("--threshold-floor", c.threshold_floor,
                 "Log without --threshold: per micrograph, the threshold is Otsu's split of the scores of all its "
                 "peaks (local maxima at --min-distance; scores above median + 5 MAD clipped there), never below "
                 "this floor (default 2.2 sigma)");
  app.add_option("--min-distance", c.pick.min_distance, "Minimum distance between picks (Å); 0 = diameter / 2")
      ->capture_default_str();
  app.add_option("--border", c.border,
                 "No picks closer than this to the edge (Å); default: the particle radius (such particles cannot be "
                 "extracted whole)");
  app.add_option("--max-picks", c.pick.max_picks, "Most picks per micrograph (0 = no limit)")->capture_default_str();
  app.add_option("--max-stddev-noise", c.pick.max_stddev_noise,
                 "Reject picks whose local std (sigma units, particle disk) exceeds this; <= 0 = off")
      ->capture_default_str();
  app.add_option("--min-avg-noise", c.pick.min_avg_noise,
                 "Reject picks whose local mean (sigma units, particles bright) is below this; <= -900 = off")
      ->capture_default_str();
  app.add_option("--contrast", c.contrast, "Particles in the micrographs are dark (raw cryo-EM) or bright")
      ->check(CLI::IsMember({"dark", "bright"}))
      ->capture_default_str();
  app.add_option("--working-pixel-size", c.pick.preprocess.working_pixel_size,
                 "Bin to this pixel size (Å); 0 = particle diameter / --binned-diameter-px")
      ->capture_default_str();
  app.add_option("--binned-diameter-px", c.pick.preprocess.diameter_px_target,
                 "Particle diameter after binning (px of the binned micrograph)")
      ->capture_default_str();
  AddDeprecatedOption(app, "--diameter-px", "--binned-diameter-px", c.pick.preprocess.diameter_px_target);
  app.add_option("--highpass", c.pick.preprocess.highpass_angstrom, "High-pass the micrograph (Å); 0 = off")
      ->capture_default_str();
  app.add_option("--local-norm", c.pick.preprocess.local_normalise_angstrom,
                 "Template/LoG: normalise by the mean/std in a window of this size (Å) around each pixel; "
                 "0 = one robust mean/std per micrograph (a CNN uses its model's setting)")
      ->capture_default_str()
      ->check(NonNegative());
  app.add_flag("--overlays", c.overlays, "Write <out>/overlays/<micrograph>.png with the picks");
  auto* t = app.add_option_group("template", "Template matching (--method template)");
  t->add_option("--references", c.references, "2D references (.mrcs, white particles)");
  t->add_option("--classes", c.classes,
                "Use only these sections of --references (1-based, e.g. the good classes of a class2d run's "
                "run_itNNN_classes.mrcs: --classes 1,3,5); picks carry them as rlnClassNumber")
      ->delimiter(',');
  t->add_option("--reference-map", c.reference_map, "3D map to project references from");
  t->add_option("--views", c.views, "Projections of --reference-map (even on the sphere)")->capture_default_str();
  t->add_option("--reference-pixel-size", c.reference_pixel_size, "References' pixel size (Å); 0 = header")
      ->capture_default_str();
  t->add_option("--lowpass", c.tmpl.lowpass_angstrom, "Low-pass of the references (Å)")->capture_default_str();
  t->add_option("--psi-step", c.tmpl.psi_step, "In-plane rotation step (degrees)")->capture_default_str();
  t->add_flag("--whiten", c.tmpl.whiten, "Pre-whiten micrograph and references by the micrograph's power spectrum");
  t->add_flag("--write-references", c.write_references, "Write the references used to <out>/references.mrcs");
  t->add_flag("--ctf", c.tmpl.use_ctf, "Multiply references by each micrograph's CTF (STAR with defocus)");
  t->add_option("--correlation-pixel", c.tmpl.correlation_pixel,
                "Pixel (Å) of the correlation grid; 0 = lowpass / 2.5; < 0 = the working pixel")
      ->capture_default_str();
  auto* l = app.add_option_group("log", "Laplacian of Gaussian (--method log)");
  l->add_option("--diameter-min", c.log.diameter_min, "Smallest blob diameter (Å); 0 = 0.8 x --diameter")
      ->capture_default_str();
  l->add_option("--diameter-max", c.log.diameter_max, "Largest blob diameter (Å); 0 = 1.2 x --diameter")
      ->capture_default_str();
  l->add_option("--log-scales", c.log.num_scales, "Scales between the diameters")->capture_default_str();
  l->add_option("--log-texture-weight", c.log.texture_weight,
                "Weight of the texture-energy LoG map added to the intensity LoG; 0 = intensity only")
      ->capture_default_str();
  auto* cnn_group = app.add_option_group("cnn", "CNN (--method cnn; train with emkit train)");
  cnn_group->add_option("--model", c.model, "Model file (model.pt from emkit train)");
  cnn_group->add_option("--device", c.device, "cpu | cuda[:N]")->capture_default_str();
  cnn_group
      ->add_option("--tile", c.tile, "Largest tile (binned px) for the network; tiles overlap by its receptive field")
      ->capture_default_str();
  cnn_group->add_option("--tta", c.tta,
                        "Test-time augmentation: mean over 1, 4 (quarter turns) or 8 (and flips) transforms; "
                        "0 = the model's");
  cnn_group->add_option("--score-smoothing", c.score_smoothing,
                        "Gaussian blur of the score map before peak finding, sigma in particle diameters; < 0 = the "
                        "model's (its threshold was chosen with the model's)");
  bool overwrite = false;
  AddOverwriteOption(app, &overwrite);
  AddRangeChecks(app, {{"--pixel-size", NonNegative()},
                       {"--diameter", Positive()},
                       {"--min-distance", NonNegative()},
                       {"--border", NonNegative()},
                       {"--max-picks", NonNegative()},
                       {"--working-pixel-size", NonNegative()},
                       {"--binned-diameter-px", InRange(1.0, double(kMaxImageSide))},
                       {"--diameter-px", InRange(1.0, double(kMaxImageSide))},
                       {"--highpass", NonNegative()},
                       {"--views", InRange(1, 100000)},
                       {"--reference-pixel-size", NonNegative()},
                       {"--lowpass", NonNegative()},
                       {"--psi-step", InRange(1e-3, 360.0)},
                       {"--diameter-min", NonNegative()},
                       {"--diameter-max", NonNegative()},
                       {"--log-scales", InRange(1, 1000)},
                       {"--log-texture-weight", NonNegative()},
                       {"--tile", InRange(16, kMaxImageSide)},
                       {"--tta", CLI::IsMember({0, 1, 4, 8})}});
  AddCommonOptions(app, &common);
  if (int rc = ParseCommandLine(app, argc, argv); rc >= 0) return rc;
  const int threads = ApplyCommonOptions(&common);
  std::unique_ptr<RelionExternalJob> relion;
  if (!in_mics.empty()) {
    relion = std::make_unique<RelionExternalJob>(c.out);
    if (!c.micrographs.empty()) throw InvalidInputError("give the micrographs with -i or with --in_mics, not both");
    c.micrographs = {in_mics};
  }
  if (c.micrographs.empty()) throw InvalidInputError("no micrographs: give -i (or --in_mics)");

  const PickMethod* method = nullptr;
  for (const auto& m : kMethods)
    if (c.method == m.name) method = &m;
  if (!method) throw InvalidInputError("--method '" + c.method + "': unknown (" + names + ")");
  c.pick.adaptive_threshold = method->adaptive && std::isnan(c.threshold);
  if (!std::isnan(c.threshold_floor) && !c.pick.adaptive_threshold)
    throw InvalidInputError("--threshold-floor: only for the adaptive threshold of log picking (not with --threshold)");
  c.pick.threshold = !std::isnan(c.threshold)         ? c.threshold
                     : !std::isnan(c.threshold_floor) ? c.threshold_floor
                                                      : method->default_threshold;
  c.pick.threads = threads;
  c.pick.preprocess.invert = c.contrast == "dark";
  if (c.method == "cnn") PrepareCnn(c, threads);
  // Particles centred within a radius of the edge cannot be extracted whole, are not labelled in
  // the training sets we know, and the CNN's stored threshold was chosen without them.
  c.pick.border = c.border >= 0 ? c.border : 0.5 * c.pick.diameter;
  c.pick.Check();
  std::vector<MicrographInput> inputs = ListMicrographs(c.micrographs, c.pixel_size);
  if (relion)  // RELION reads <out>/<name after its job folder>_autopick.star
    for (auto& in : inputs) in.key = RelionCoordinateKey(in.name);
  for (const auto& in : inputs)  // before the first micrograph is picked
    if (!FileExists(in.path))
      throw IoError((in.where.empty() ? in.path : in.where + ": micrograph " + in.name) + ": no such file");
  if (c.method == "template" && c.tmpl.use_ctf)
    for (const auto& in : inputs)
      if (!in.has_ctf)
        throw InvalidInputError((in.where.empty() ? in.path + ": no CTF for this micrograph (give a micrographs STAR)"
                                                  : in.where + ": micrograph " + in.name +
                                                        " has no CTF (no _rlnDefocusU/_rlnDefocusV column)") +
                                ", but --ctf is on: estimate it with `emkit ctf` and pick from its micrographs.star, "
                                "or leave out --ctf");
  JobFolderOptions f;
  f.dir = c.out;
  f.inputs = c.micrographs;
  f.inputs.insert(f.inputs.end(), {c.model, c.references, c.reference_map});
  f.output_patterns = {"*_autopick.star", "coordinates.star", "micrographs.star",           "pick_summary.json",
                       "references.mrcs", "overlays/*",       "coords_suffix_autopick.star"};
  f.overwrite = overwrite;
  const std::unique_ptr<JobFolder> folder = OpenJobFolder(app, argc, argv, f);
  std::unique_ptr<ScoreMapper> mapper = method->make(c, threads);

  PickRunOptions run;
  run.out = c.out;
  run.overlays = c.overlays;
  const double t_start = NowSeconds();
  // read -> preprocess -> score -> write overlap, at most a few micrographs in memory.
  std::vector<PickRunRecord> records = PickMicrographs(inputs, mapper.get(), c.pick, run);
  const double total_seconds = NowSeconds() - t_start;
  std::vector<std::string> names_out;
  std::vector<std::vector<Coordinate>> all;
  nlohmann::json per = nlohmann::json::array();
  for (auto& r : records) {
    per.push_back({{"micrograph", r.input.name},
                   {"picks", r.picks.size()},
                   {"rejected_bad_region", r.rejected_bad_region},
                   {"threshold", r.threshold},
                   {"read_seconds", r.read_seconds},
                   {"preprocess_seconds", r.preprocess_seconds},
                   {"pick_seconds", r.pick_seconds},
                   {"write_seconds", r.write_seconds},
                   {"working_pixel_size", r.working_pixel_size}});
    LOG_DEBUG(r.input.name << ": " << r.picks.size() << " picks");
    names_out.push_back(r.input.name);
    all.push_back(std::move(r.picks));
  }
  WriteCombinedCoordinates(JoinPath(c.out, "coordinates.star"), names_out, all);
  // The micrographs picked (with their CTF when they had one), for extract -i.
  std::vector<MicrographInput> picked;
  for (const auto& r : records) picked.push_back(r.input);
  WriteMicrographs(JoinPath(c.out, "micrographs.star"), MicrographSetOf(picked));
  std::size_t n = 0;
  for (const auto& p : all) n += p.size();
  nlohmann::json summary = {{"method", method->name},
                            {"threshold", c.pick.threshold},
                            {"adaptive_threshold", c.pick.adaptive_threshold},
                            {"micrographs", inputs.size()},
                            {"picks", n},
                            {"threads", threads},
                            {"seconds_per_micrograph", total_seconds / inputs.size()},
                            {"per_micrograph", per}};
  WriteTextFile(JoinPath(c.out, "pick_summary.json"), summary.dump(2) + "\n");
  LOG_INFO("picked " << n << " particles on " << inputs.size() << " micrograph(s) with " << method->name << ", "
                     << total_seconds / inputs.size() << " s per micrograph; " << JoinPath(c.out, "coordinates.star")
                     << " (micrographs: " << JoinPath(c.out, "micrographs.star") << ")");
  if (relion) {  // as relion_autopick: the suffix file names the micrographs STAR
    const std::string suffix = JoinPath(c.out, "coords_suffix_autopick.star");
    WriteTextFile(suffix, c.micrographs.front() + "\n");
    folder->Complete();
    relion->Success({{std::filesystem::path(suffix).lexically_normal().string(), 2}});
    return 0;
  }
  folder->Complete();
  return 0;
}

EMKIT_REGISTER_COMMAND(RunPick, "pick",
                       "Pick particles (template matching, LoG or a trained CNN) into RELION autopick STARs");

}  // namespace emkit
