// emkit train: train the CNN picker on annotated micrographs (training/trainer.h).
#include <cstdio>
#include <memory>
#include <utility>
#include <vector>

#include "apps/command_line.h"
#include "core/error.h"
#include "core/files.h"
#include "picker/pick.h"
#include "pipeline/relion_pipeline.h"
#include "training/trainer.h"

namespace emkit {
namespace {

// RELION External job inputs: the micrographs of a STAR, and their coordinates where RELION keeps
// them (<coords folder>/<name after the job folder><suffix>), copied under their micrographs'
// stems into <out>/relion_coords/.
// Returns the copies to make (from, to) once the job's folder is open.
std::vector<std::pair<std::string, std::string>> ReadRelionInputs(const std::string& in_mics,
                                                                  const std::string& in_coords, TrainOptions* opt) {
  if (in_mics.empty() || in_coords.empty())
    throw InvalidInputError("a RELION External job needs both --in_mics and --in_coords");
  const std::vector<MicrographInput> mics = ListMicrographs({in_mics}, opt->train.pixel_size);
  const std::string base = Basename(in_coords);
  if (base.rfind("coords_suffix", 0) != 0)
    throw InvalidInputError(in_coords + ": --in_coords: expected RELION's coords_suffix_<suffix>.star");
  const std::string suffix = base.substr(13), dir = ParentDir(in_coords);
  const std::string flat = JoinPath(opt->out_dir, "relion_coords");
  std::vector<std::pair<std::string, std::string>> copies;
  for (const auto& m : mics) {
    const std::string from = JoinPath(dir, RelionCoordinateKey(m.name) + suffix);
    if (!FileExists(from)) continue;  // a micrograph without picks
    copies.push_back({from, JoinPath(flat, StripExtension(Basename(m.path)) + suffix)});
    opt->train.micrographs.push_back(m.path);
  }
  if (opt->train.micrographs.empty())
    throw InvalidInputError(in_coords + ": no coordinate file for any micrograph of " + in_mics);
  if (!(opt->train.pixel_size > 0)) opt->train.pixel_size = mics.front().pixel_size;
  opt->train.coordinates = flat;
  return copies;
}

}  // namespace

int RunTrain(int argc, char** argv) {
  CLI::App app("Train the CNN particle picker on micrographs with (possibly sparse) particle coordinates", argv[0]);
  TrainOptions opt;
  CommonOptions common;
  std::string coord_format = "auto";
  AddInput(app, opt.train.micrographs, "Training micrographs (files or folders; mrc/tif/png/jpg)", "--micrographs");
  app.add_option("-c,--coords", opt.train.coordinates,
                 "Coordinates: a folder with one file per micrograph (same stem; star/box/csv/txt) or one file");
  // As a RELION External job: RELION passes a micrographs STAR and a coords_suffix file.
  std::string in_mics, in_coords;
  app.add_option("--in_mics", in_mics, "RELION External job: micrographs STAR (instead of -i)");
  app.add_option("--in_coords", in_coords,
                 "RELION External job: coords_suffix_*.star of a picking job (instead of -c)");
  app.add_option("--valid-micrographs", opt.valid_micrographs, "Validation micrographs (files or folders)");
  app.add_option("--valid-coords", opt.valid_coordinates, "Coordinates of the validation micrographs");
  app.add_option("--valid-fraction", opt.valid_fraction, "Fraction held out for validation when no set is given")
      ->capture_default_str();
  app.add_option("--coords-format", coord_format, "auto|star|box|csv|topaz")->capture_default_str();
  AddDeprecatedOption(app, "--coord-format", "--coords-format", coord_format);
  app.add_flag("--flip-y", opt.train.coordinate_io.flip_y, "Coordinates have y pointing up");
  app.add_option("--pixel-size", opt.train.pixel_size, "Micrograph pixel size, Å (default: MRC header)");
  app.add_option("--diameter,-d", opt.diameter_angstrom, "Particle diameter, Å");
  app.add_option("--diameter-px", opt.diameter_px, "Particle diameter, px of the micrographs as given");
  app.add_option("--binned-diameter-px", opt.diameter_px_target,
                 "Particle diameter after binning (px of the binned micrograph the network sees)")
      ->capture_default_str();
  AddDeprecatedOption(app, "--binned-diameter", "--binned-diameter-px", opt.diameter_px_target);
  app.add_option("--local-norm-diameters", opt.local_normalise_diameters,
                 "Normalise by the mean/std in a window of this many particle diameters around each pixel "
                 "(carbon edges, ice gradients); 0 = one robust mean/std per micrograph")
      ->capture_default_str()
      ->check(NonNegative());
  AddDeprecatedOption(app, "--local-norm", "--local-norm-diameters", opt.local_normalise_diameters)
      ->check(NonNegative());
  app.add_option("--highpass", opt.train.preprocess.highpass_angstrom, "High-pass, Å (0 = off)")->capture_default_str();
  app.add_flag("--invert-contrast", opt.train.preprocess.invert, "Invert contrast after normalising");
  AddDeprecatedFlag(app, "--invert", "--invert-contrast", opt.train.preprocess.invert);
  AddOutput(app, opt.out_dir, "Output folder (model.pt, checkpoint.pt, report)")->required();
  app.add_option("--cache-dir", opt.train.cache_dir, "HDF5 cache of the preprocessed set (default OUT/cache)");
  app.add_option("--arch", opt.architecture, "Network: resnet8 (receptive field 33 px) | resnet10 (65 px) | unet")
      ->capture_default_str();
  app.add_option("--width", opt.width, "Channels of the first layer")->capture_default_str();
  app.add_option("--objective", opt.objective, "pu (GE-binomial, sparse labels) | pn")->capture_default_str();
  app.add_option("--expected-particles", opt.expected_particles,
                 "PU: expected particles per micrograph (0 = 1.5 x labelled)")
      ->capture_default_str();
  app.add_option("--slack", opt.slack, "PU: weight of the GE-binomial penalty")->capture_default_str();
  app.add_option("--focal", opt.focal_gamma, "PN: focal loss exponent gamma (0 = cross-entropy)")
      ->capture_default_str();
  app.add_option("--label-radius", opt.patches.label_radius, "Label disk radius, binned px")->capture_default_str();
  app.add_option("--patch", opt.patches.patch, "Patch size, binned px (0 = receptive field + 64 px)")
      ->capture_default_str();
  app.add_option("--batch-size", opt.patches.batch, "Patches per minibatch")->capture_default_str();
  app.add_option("--positive-fraction", opt.patches.positive_fraction,
                 "Fraction of patches centred on labelled particles")
      ->capture_default_str();
  app.add_option("--hard-negative-fraction", opt.patches.hard_negative_fraction,
                 "PN: fraction of patches around the model's best unlabelled peaks, mined after each epoch; "
                 "-1 = 0.25 with PN, 0 with PU")
      ->capture_default_str();
  app.add_flag("!--no-augment", opt.patches.augment, "Disable rotation/flip augmentation");
  app.add_option("--epochs", opt.epochs, "Epochs")->capture_default_str();
  app.add_option("--steps-per-epoch", opt.steps_per_epoch, "Minibatches per epoch")->capture_default_str();
  app.add_option("--lr", opt.learning_rate, "Adam learning rate (cosine schedule to lr/20)")->capture_default_str();
  app.add_option("--weight-decay", opt.weight_decay, "Adam weight decay")->capture_default_str();
  app.add_option("--weight-average", opt.weight_average,
                 "Validate and save the moving average of the weights with this decay per step (0 = last step's)")
      ->capture_default_str();
  app.add_flag("--resume", opt.resume, "Continue from OUT/checkpoint.pt");
  app.add_option("--stop-after-epoch", opt.stop_after_epoch, "Stop after this epoch (continue later with --resume)");
  app.add_option("--device", opt.device, "cpu | cuda[:N]")->capture_default_str();
  app.add_flag("--export-torchscript", opt.export_torchscript, "Also write OUT/model.torchscript.pt");
  app.add_option("--tta", opt.test_time_augmentation,
                 "Test-time augmentation stored in the model: mean over 1, 4 (quarter turns) or 8 (and flips) "
                 "transforms of the micrograph; 0 = 4 for ResNets, 1 for the U-Net")
      ->capture_default_str();
  app.add_option("--threshold-from", opt.threshold_from,
                 "Micrographs whose labels set the model's default threshold (max F1, best epoch's weights): all "
                 "(training + validation) or validation")
      ->capture_default_str();
  app.add_option("--score-smoothing", opt.score_smoothing,
                 "Gaussian blur of the score map before peak finding: sigma in particle diameters (0 = off); "
                 "stored in the model")
      ->capture_default_str();
  app.add_flag("--channels-last", opt.channels_last,
               "Channels-last tensors for training on the CPU (default NCHW: measured faster; picking always uses "
               "channels-last)");
  bool overwrite = false;
  AddOverwriteOption(app, &overwrite);
  AddRangeChecks(app, {{"--valid-fraction", InRange(0.0, 1.0)},
                       {"--pixel-size", NonNegative()},
                       {"--diameter", NonNegative()},
                       {"--diameter-px", NonNegative()},
                       {"--binned-diameter-px", InRange(4.0, 128.0)},
                       {"--binned-diameter", InRange(4.0, 128.0)},
                       {"--highpass", NonNegative()},
                       {"--width", InRange(1, 1024)},
                       {"--expected-particles", NonNegative()},
                       {"--slack", Positive()},
                       {"--focal", NonNegative()},
                       {"--label-radius", Positive()},
                       {"--patch", InRange(0, 8192)},
                       {"--batch-size", InRange(1, 4096)},
                       {"--positive-fraction", InRange(0.0, 1.0)},
                       {"--hard-negative-fraction", InRange(-1.0, 1.0)},
                       {"--epochs", InRange(1, 1000000)},
                       {"--steps-per-epoch", InRange(1, 100000000)},
                       {"--lr", Positive()},
                       {"--weight-decay", NonNegative()},
                       {"--weight-average", InRange(0.0, 1.0)},
                       {"--stop-after-epoch", NonNegative()},
                       {"--tta", CLI::IsMember({0, 1, 4, 8})},
                       {"--score-smoothing", InRange(0.0, 1.0)}});
  AddCommonOptions(app, &common);
  if (int rc = ParseCommandLine(app, argc, argv); rc >= 0) return rc;
  opt.threads = ApplyCommonOptions(&common);
  opt.seed = common.seed;
  std::unique_ptr<RelionExternalJob> relion;
  std::vector<std::pair<std::string, std::string>> relion_copies;
  if (!in_mics.empty() || !in_coords.empty()) {
    relion = std::make_unique<RelionExternalJob>(opt.out_dir);
    relion_copies = ReadRelionInputs(in_mics, in_coords, &opt);
  }
  if (opt.train.micrographs.empty()) throw InvalidInputError("no training micrographs: give -i (or --in_mics)");
  if (opt.train.coordinates.empty()) throw InvalidInputError("no coordinates: give -c (or --in_coords)");
  opt.train.coordinate_io.format = ParseCoordinateFormat(coord_format);
  opt.Check();
  JobFolderOptions f;
  f.dir = opt.out_dir;
  f.inputs = opt.train.micrographs;
  f.inputs.insert(f.inputs.end(), opt.valid_micrographs.begin(), opt.valid_micrographs.end());
  f.inputs.insert(f.inputs.end(), {relion ? in_coords : opt.train.coordinates, opt.valid_coordinates});
  f.output_patterns = {
      "model.pt", "checkpoint.pt", "model.torchscript.pt", "training_curves.png", "training_report.json", "cache/*"};
  f.overwrite = overwrite;
  f.resume = opt.resume;
  f.resume_from = JoinPath(opt.out_dir, "checkpoint.pt");
  const std::unique_ptr<JobFolder> folder = OpenJobFolder(app, argc, argv, f);
  if (relion) CreateDirectories(opt.train.coordinates);
  for (const auto& [from, to] : relion_copies) WriteTextFile(to, ReadTextFile(from));
  TrainResult r = Train(opt);
  // Until this marker exists, model.pt is the best of the epochs so far, not the run's result.
  folder->Complete();
  if (relion) relion->Success({});
  std::printf("model %s: best validation AP %.4f at epoch %d, default threshold %.3f, %.1f s\n", r.model_path.c_str(),
              r.best_ap, r.best_epoch, r.default_threshold, r.seconds);
  return 0;
}

EMKIT_REGISTER_COMMAND(RunTrain, "train", "Train the CNN particle picker on annotated micrographs");

}  // namespace emkit
