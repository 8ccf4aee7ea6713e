// emkit postprocess: masked, phase-randomisation-corrected FSC of two half maps, resolution at
// 0.143, B-factor (Guinier fit or given), sharpened map, FSC and Guinier plots; the files and
// rules of RELION 3.1's relion_postprocess (refine/postprocess.h), with an automatic mask made
// as relion_mask_create makes one (refine/mask3d.h).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

#include "apps/command_line.h"
#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "io/mrc.h"
#include "io/plot.h"
#include "refine/mask3d.h"
#include "refine/postprocess.h"

namespace emkit {
namespace {

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

void WriteFscPlot(const std::string& path, const PostprocessResult& r) {
  LinePlot p;
  p.title = "Final resolution " + Fixed(r.resolution_A, 2) + " A (FSC 0.143)";
  p.x_label = "resolution (A)";
  p.y_label = "FSC";
  p.x_max = 1 / (2 * r.pixel_size);
  p.y_min = -0.1;
  p.h_lines = {0.143};
  p.x_tick_text = [](double f) { return f > 0 ? Fixed(1 / f, 1) : std::string("inf"); };
  auto curve = [&](const std::string& label, const std::vector<double>& y) {
    PlotCurve c{label, {}, {}};
    for (std::size_t s = 0; s < y.size(); ++s) {
      c.x.push_back(s / (r.box * r.pixel_size));
      c.y.push_back(std::max(-0.1, y[s]));
    }
    p.curves.push_back(c);
  };
  curve(r.masked ? "corrected" : "unmasked", r.fsc_corrected);
  if (r.masked) {
    curve("unmasked", r.fsc_unmasked);
    curve("masked", r.fsc_masked);
    curve("phase-randomised masked (from " + Fixed(r.RandomizeFromA(), 1) + " A)", r.fsc_random_masked);
  }
  WriteLinePlotPng(path, p);
}

void WriteGuinierPlot(const std::string& path, const PostprocessResult& r, const PostprocessOptions& o) {
  LinePlot p;
  p.title = "Guinier plot: B " + Fixed(r.bfactor, 1) + " A^2";
  p.x_label = "1/d^2 (1/A^2)";
  p.y_label = "ln |F|";
  p.x_max = 1 / (4 * r.pixel_size * r.pixel_size);
  p.x_tick_text = [](double x) { return Fixed(x, 3); };
  p.y_tick_text = [](double y) { return Fixed(y, 1); };
  double lo = 1e30, hi = -1e30;
  auto curve = [&](const std::string& label, const std::vector<GuinierPoint>& g) {
    PlotCurve c{label, {}, {}};
    for (const auto& q : g)
      if (q.y > -99 && q.x > 0) {
        c.x.push_back(q.x);
        c.y.push_back(q.y);
        lo = std::min(lo, q.y);
        hi = std::max(hi, q.y);
      }
    if (!c.x.empty()) p.curves.push_back(c);
  };
  curve("original", r.guinier_in);
  if (!r.guinier_invmtf.empty()) curve("MTF-corrected", r.guinier_invmtf);
  if (o.fsc_weighting) curve("FSC-weighted", r.guinier_weighted);
  if (r.bfactor != 0) curve("sharpened", r.guinier_sharpened);
  if (o.auto_bfactor) {
    PlotCurve fit{"fit (slope " + Fixed(r.guinier_fit.slope, 1) + ")", {}, {}};
    for (const auto& q : r.guinier_weighted)
      if (q.w > 0) {
        fit.x.push_back(q.x);
        fit.y.push_back(r.guinier_fit.intercept + r.guinier_fit.slope * q.x);
      }
    if (!fit.x.empty()) p.curves.push_back(fit);
  }
  if (lo > hi) lo = -1, hi = 1;
  p.y_min = std::floor(lo - 0.5);
  p.y_max = std::ceil(hi + 0.5);
  WriteLinePlotPng(path, p);
}

Volume ReadMap(const std::string& path, const std::string& what, MrcHeader* header = nullptr) {
  if (!FileExists(path)) throw IoError(path + ": no such file (" + what + ")");
  return ReadMrcFinite(path, what, header);
}

struct Flags {
  std::string half1, half2, out, mask_file, mtf_file;
  PostprocessOptions o;
  AutoMaskOptions m;
  bool auto_mask = false, skip_weighting = false, overwrite = false;
  double mask_extend_A = 0, mask_edge_A = 0;
  CLI::Option *extend_A = nullptr, *extend_px = nullptr, *edge_A = nullptr, *edge_px = nullptr;
  CommonOptions common;
};

void AddFlags(CLI::App& app, Flags* f) {
  PostprocessOptions& o = f->o;
  AddInput(app, f->half1, "Half map 1 (MRC); half map 2 from --half2, else this name with half1 -> half2", "--half1")
      ->required();
  app.add_option("--half2,--i2", f->half2, "Half map 2 (default: --half1's file name with half1 replaced by half2)");
  AddOutput(app, f->out, "Output folder")->required();
  app.add_option("--pixel-size,--angpix", o.pixel_size, "Pixel size in Å (0: from half map 1's header)")
      ->capture_default_str();
  app.add_option("--mask", f->mask_file, "Solvent mask (MRC, values 0-1, the half maps' box)");
  app.add_flag("--auto-mask,--auto_mask", f->auto_mask,
               "Make the mask from the average of the half maps as relion_mask_create does (threshold, extend, "
               "soft edge); written as OUT/postprocess_mask.mrc");
  app.add_option("--mask-threshold,--inimask_threshold", f->m.threshold,
                 "--auto-mask: voxels at or above this density seed the mask (the map's units)")
      ->capture_default_str();
  f->extend_A = app.add_option("--mask-extend", f->mask_extend_A,
                               "--auto-mask: extend the seed by this distance, Å (negative shrinks; default 3 px)");
  f->extend_px = app.add_option("--extend_inimask", f->m.extend_px, "--auto-mask: the same in pixels (RELION)");
  f->edge_A =
      app.add_option("--mask-edge", f->mask_edge_A, "--auto-mask: raised-cosine soft edge width, Å (default 6 px)");
  f->edge_px = app.add_option("--width_mask_edge", f->m.soft_edge_px, "--auto-mask: the same in pixels (RELION)");
  app.add_option("--mask-lowpass", f->m.lowpass_A,
                 "--auto-mask: low-pass the average at this resolution (Å) before thresholding (0: no)")
      ->capture_default_str();
  app.add_flag("--force-mask,--force_mask", o.force_mask,
               "Keep the mask even when the unmasked FSC reaches a better resolution");
  app.add_flag("--auto-bfac,--auto_bfac", o.auto_bfactor,
               "Fit the B-factor on the Guinier plot (Rosenthal & Henderson 2003)");
  app.add_option("--bfac,--adhoc_bfac", o.bfactor, "B-factor to apply, Å² (negative sharpens; 0: none)")
      ->capture_default_str();
  app.add_option("--autob-lowres,--autob_lowres", o.autob_lowres, "--auto-bfac: fit from this resolution (Å)")
      ->capture_default_str();
  app.add_option("--autob-highres,--autob_highres", o.autob_highres,
                 "--auto-bfac: fit up to this resolution (Å; 0: as far as the FSC-weighted map reaches)")
      ->capture_default_str();
  app.add_flag("--skip-fsc-weighting,--skip_fsc_weighting", f->skip_weighting,
               "No sqrt(2 FSC / (1 + FSC)) weighting of the sharpened map");
  app.add_option("--low-pass,--low_pass", o.low_pass_A,
                 "Low-pass the sharpened map at this resolution (Å); 0: no; negative: at the final resolution")
      ->capture_default_str();
  app.add_option("--mtf", f->mtf_file, "Detector MTF: STAR with rlnResolutionInversePixel and rlnMtfValue (RELION)");
  app.add_option("--mtf-pixel-size,--mtf_angpix", o.mtf_pixel_size,
                 "Pixel size of the detector images the MTF refers to, Å (0: --pixel-size)")
      ->capture_default_str();
  app.add_option("--randomize-at-fsc,--randomize_at_fsc", o.randomize_fsc,
                 "Randomise phases from the shell where the unmasked FSC first drops below this")
      ->capture_default_str();
  app.add_option("--randomize-at,--randomize_at_A", o.randomize_at_A,
                 "Randomise phases from this resolution instead, Å (0: from --randomize-at-fsc)")
      ->capture_default_str();
  AddOverwriteOption(app, &f->overwrite);
  AddRangeChecks(app, {{"--pixel-size", NonNegative()},
                       {"--mask-lowpass", NonNegative()},
                       {"--autob-lowres", Positive()},
                       {"--autob-highres", NonNegative()},
                       {"--mtf-pixel-size", NonNegative()},
                       {"--randomize-at-fsc", InRange(0.01, 0.99)},
                       {"--randomize-at", NonNegative()},
                       {"--width_mask_edge", InRange(0, 1000)},
                       {"--extend_inimask", InRange(-1000, 1000)},
                       {"--mask-extend", InRange(-10000, 10000)},
                       {"--mask-edge", InRange(0, 10000)}});
  AddCommonOptions(app, &f->common);
}

std::string ShapeText(const Volume& v) {
  return std::to_string(v.nx()) + "x" + std::to_string(v.ny()) + "x" + std::to_string(v.nz());
}

// Reads and checks the inputs (half maps, mask, MTF) and completes the options (half2, pixel
// size, the mask's distances in px). Returns {half1, half2, mask (empty: none or automatic)}.
std::array<Volume, 3> ReadInputs(Flags* f) {
  if (f->auto_mask && !f->mask_file.empty()) throw InvalidInputError("--mask and --auto-mask: give one of them");
  if (f->extend_A->count() && f->extend_px->count())
    throw InvalidInputError("--mask-extend and --extend_inimask: give one");
  if (f->edge_A->count() && f->edge_px->count()) throw InvalidInputError("--mask-edge and --width_mask_edge: give one");
  if (f->half2.empty()) {
    f->half2 = OtherHalfMapName(f->half1);
    if (f->half2.empty())
      throw InvalidInputError(f->half1 +
                              ": the name has no 'half1' or 'half2' to find the other half map; give --half2");
  }
  MrcHeader header;
  std::array<Volume, 3> maps = {ReadMap(f->half1, "half map 1", &header), ReadMap(f->half2, "half map 2"), Volume()};
  if (!maps[0].SameShape(maps[1]))
    throw InvalidInputError(f->half2 + ": " + ShapeText(maps[1]) + " differs from " + f->half1 + " (" +
                            ShapeText(maps[0]) + ")");
  PostprocessOptions& o = f->o;
  if (!(o.pixel_size > 0)) o.pixel_size = header.PixelSize();
  if (!(o.pixel_size > 0)) throw InvalidInputError(f->half1 + ": no pixel size in the header: give --pixel-size");
  if (!f->mtf_file.empty()) o.mtf = ReadMtfStar(f->mtf_file);
  o.Check();
  if (!f->mask_file.empty()) {
    maps[2] = ReadMap(f->mask_file, "mask");
    if (!maps[2].SameShape(maps[0]))
      throw InvalidInputError(f->mask_file + ": the mask's box differs from the half maps'");
  }
  if (f->extend_A->count()) f->m.extend_px = f->mask_extend_A / o.pixel_size;
  if (f->edge_A->count()) f->m.soft_edge_px = f->mask_edge_A / o.pixel_size;
  f->m.pixel_size = o.pixel_size;
  if (f->auto_mask) f->m.Check();
  return maps;
}

void PrintSummary(const Flags& f, const PostprocessResult& r) {
  std::string bfac = "B-factor " + Fixed(r.bfactor, 1) + " Å²";
  if (f.o.auto_bfactor)
    bfac += " (Guinier fit from " + Fixed(f.o.autob_lowres, 1) + " Å, r² " + Fixed(r.guinier_fit.correlation, 3) + ")";
  const std::string fsc = !r.masked        ? "unmasked"
                          : r.mask_skipped ? "unmasked: the mask was skipped"
                                           : "masked, phases randomised from " + Fixed(r.RandomizeFromA(), 2) + " Å";
  std::printf("postprocess: resolution %.2f Å (FSC 0.143, %s), %s, box %d, %.3f Å/px -> %s\n", r.resolution_A,
              fsc.c_str(), bfac.c_str(), r.box, r.pixel_size, JoinPath(f.out, "postprocess.mrc").c_str());
}

}  // namespace

int RunPostprocessCommand(int argc, char** argv) {
  CLI::App app(
      "Post-process two half maps as relion_postprocess (RELION 3.1): FSC unmasked, masked and corrected by phase "
      "randomisation (resolution at FSC 0.143), the average of the halves FSC-weighted and sharpened with a B-factor "
      "(fitted on the Guinier plot or given), an MTF correction; writes OUT/postprocess.mrc, postprocess_masked.mrc, "
      "postprocess.star, postprocess_fsc.xml (EMDB), postprocess_fsc.png, postprocess_guinier.png",
      argv[0]);
  Flags f;
  AddFlags(app, &f);
  if (int rc = ParseCommandLine(app, argc, argv); rc >= 0) return rc;
  f.o.threads = f.m.threads = ApplyCommonOptions(&f.common);
  f.o.seed = f.common.seed;
  f.o.fsc_weighting = !f.skip_weighting;
  auto [h1, h2, mask] = ReadInputs(&f);
  if (f.auto_mask) {
    Volume avg = h1;
    for (std::size_t i = 0; i < avg.size(); ++i) avg[i] = 0.5f * (h1[i] + h2[i]);
    mask = MakeAutoMask(avg, f.m);
  }
  const PostprocessResult r = Postprocess(h1, h2, mask.empty() ? nullptr : &mask, f.o);

  JobFolderOptions jf;
  jf.dir = f.out;
  jf.inputs = {f.half1, f.half2};
  for (const std::string& in : {f.mask_file, f.mtf_file})
    if (!in.empty()) jf.inputs.push_back(in);
  jf.output_patterns = {"postprocess*"};
  jf.overwrite = f.overwrite;
  const std::unique_ptr<JobFolder> folder = OpenJobFolder(app, argc, argv, jf);
  for (const auto& warning : r.warnings) LOG_WARN(warning);
  MrcWriteOptions w;
  w.pixel_size = f.o.pixel_size;
  w.kind = MrcKind::kVolume;
  std::string mask_name = f.mask_file;
  if (f.auto_mask) {
    mask_name = JoinPath(f.out, "postprocess_mask.mrc");
    WriteMrc(mask_name, mask, w);
  }
  WriteMrc(JoinPath(f.out, "postprocess.mrc"), r.sharpened, w);
  if (r.masked) WriteMrc(JoinPath(f.out, "postprocess_masked.mrc"), r.sharpened_masked, w);
  PostprocessNames names{f.half1, f.half2, mask_name, ""};
  for (int i = 0; i < argc; ++i) names.command_line += (i ? " " : "") + std::string(argv[i]);
  WritePostprocessStar(JoinPath(f.out, "postprocess.star"), r, f.o, names);
  WriteFscXml(JoinPath(f.out, "postprocess_fsc.xml"), r);
  WriteFscPlot(JoinPath(f.out, "postprocess_fsc.png"), r);
  WriteGuinierPlot(JoinPath(f.out, "postprocess_guinier.png"), r, f.o);
  folder->Complete();
  if (!f.common.quiet) PrintSummary(f, r);
  return 0;
}

EMKIT_REGISTER_COMMAND(RunPostprocessCommand, "postprocess",
                       "Half maps -> corrected FSC, resolution, B-factor, sharpened map (relion_postprocess)");

}  // namespace emkit
