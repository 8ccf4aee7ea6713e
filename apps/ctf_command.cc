// emkit ctf: CTF estimation per micrograph (core/ctf_estimate.h) into a micrographs STAR with
// defocus, astigmatism, fit resolution and figure of merit (RELION's CtfFind columns), a
// diagnostic spectrum per micrograph (MRC, as rlnCtfImage) and a picture per micrograph.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "apps/command_line.h"
#include "core/ctf_estimate.h"
#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "io/micrograph.h"
#include "io/mrc.h"
#include "io/particles.h"
#include "io/plot.h"
#include "io/star.h"
#include "picker/pick.h"

namespace emkit {
namespace {

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// The picture: the spectrum (left half) beside the fit (right half), and the equiphase average,
// the fitted CTF^2 and their local correlation by resolution.
void WriteCtfPicture(const std::string& path, const std::string& name, const CtfEstimate& e) {
  LinePlot plot;
  plot.title = "Thon rings: fit to " + Fixed(e.fit_resolution, 1) + " A";
  plot.x_label = "resolution (A)";
  plot.y_label = "";
  plot.x_min = 0;
  plot.x_max = 0.5 / e.pixel_size;
  plot.y_min = -1;
  plot.y_max = 1.5;
  plot.x_tick_text = [](double k) { return k > 0 ? Fixed(1 / k, 1) : std::string("inf"); };
  plot.h_lines = {0.5};
  // The equiphase average scaled to the spread of CTF^2 (0.35) within the fitted range.
  const double k_fit = 1 / e.fit_resolution;
  double n = 0, s1 = 0, s2 = 0;
  for (std::size_t i = 0; i < e.frequency.size(); ++i)
    if (e.frequency[i] <= k_fit) {
      n += 1;
      s1 += e.equiphase[i];
      s2 += e.equiphase[i] * e.equiphase[i];
    }
  const double mean = n > 0 ? s1 / n : 0, sd = n > 1 ? std::sqrt(std::max(s2 / n - mean * mean, 1e-12)) : 1;
  PlotCurve fit{"CTF^2 fit (to the fit resolution)", {}, {}}, spectrum{"spectrum, equiphase average", {}, {}},
      cc{"local correlation (fit resolution where < 0.5)", {}, {}};
  for (std::size_t i = 0; i < e.frequency.size(); ++i) {
    const double k = e.frequency[i];
    if (k <= k_fit) {
      fit.x.push_back(k);
      fit.y.push_back(e.fit[i]);
    }
    spectrum.x.push_back(k);
    spectrum.y.push_back(std::clamp(0.5 + (e.equiphase[i] - mean) * 0.35 / sd, -1.0, 1.5));
    cc.x.push_back(k);
    cc.y.push_back(e.correlation[i]);
  }
  plot.curves = {spectrum, fit, cc, {"fit resolution", {k_fit, k_fit}, {-1, 1.5}}};
  const std::string caption = Basename(name) + "  U " + Fixed(e.ctf.defocus_u, 0) + "  V " + Fixed(e.ctf.defocus_v, 0) +
                              "  angle " + Fixed(e.ctf.defocus_angle, 1) + "  FOM " + Fixed(e.figure_of_merit, 3);
  WritePictureAndPlotPng(path, e.DiagnosticImage(), caption, plot);
}

}  // namespace

int RunCtf(int argc, char** argv) {
  CLI::App app(
      "Estimate the CTF of each micrograph as CTFFIND4 does (averaged tile spectra, background removal, 1D then "
      "2D search of defocus, astigmatism and optionally phase shift): micrographs.star with rlnDefocusU/V/Angle, "
      "rlnCtfMaxResolution, rlnCtfFigureOfMerit, and a picture per micrograph",
      argv[0]);
  std::vector<std::string> inputs;
  std::string out;
  double pixel_size = 0;
  CtfEstimateOptions opt;
  bool overwrite = false, no_pictures = false;
  CommonOptions common;
  AddInput(app, inputs, "Micrographs: .mrc/.tif/.png/.jpg files, globs, folders, or a micrographs STAR",
           "--micrographs")
      ->required();
  AddOutput(app, out, "Output folder (micrographs.star, Spectra/, pictures/)")->required();
  app.add_option("--pixel-size", pixel_size, "Micrograph pixel size (Å); 0 = from the STAR or MRC header")
      ->capture_default_str();
  auto* voltage =
      app.add_option("--voltage", opt.voltage_kv, "Acceleration voltage (kV); a STAR's optics win unless given")
          ->capture_default_str();
  auto* cs = app.add_option("--cs", opt.cs_mm, "Spherical aberration (mm)")->capture_default_str();
  auto* q = app.add_option("--amplitude-contrast", opt.amplitude_contrast, "Amplitude contrast (fraction)")
                ->capture_default_str();
  app.add_option("--box", opt.box, "Tile size for the averaged spectrum (px, even)")->capture_default_str();
  app.add_option("--min-resolution", opt.min_resolution, "Fit from this resolution (Å)")->capture_default_str();
  app.add_option("--max-resolution", opt.max_resolution, "Fit up to this resolution (Å; at most 2.1 pixels)")
      ->capture_default_str();
  app.add_option("--defocus-min", opt.defocus_min, "Smallest mean defocus searched (Å, underfocus positive)")
      ->capture_default_str();
  app.add_option("--defocus-max", opt.defocus_max, "Largest mean defocus searched (Å)")->capture_default_str();
  app.add_option("--max-astigmatism", opt.max_astigmatism, "Largest defocus U - V searched (Å)")->capture_default_str();
  app.add_flag("--phase-shift", opt.fit_phase_shift, "Also fit a phase shift (phase plate data), 0-180 degrees");
  app.add_flag("--no-pictures", no_pictures, "Skip the pictures (pictures/<micrograph>_ctf.png)");
  AddOverwriteOption(app, &overwrite);
  AddRangeChecks(app, {{"--pixel-size", NonNegative()},
                       {"--voltage", InRange(1, 5000)},
                       {"--cs", InRange(0, 100)},
                       {"--amplitude-contrast", InRange(0, 0.99)},
                       {"--box", InRange(64, 8192)},
                       {"--min-resolution", Positive()},
                       {"--max-resolution", Positive()},
                       {"--defocus-min", Positive()},
                       {"--defocus-max", Positive()},
                       {"--max-astigmatism", NonNegative()}});
  AddCommonOptions(app, &common);
  if (int rc = ParseCommandLine(app, argc, argv); rc >= 0) return rc;
  opt.threads = ApplyCommonOptions(&common);
  if (opt.box % 2) throw InvalidInputError("--box " + std::to_string(opt.box) + ": must be even");
  {  // the options alone, before any micrograph is read
    CtfEstimateOptions check = opt;
    check.pixel_size = pixel_size > 0 ? pixel_size : 1;
    check.Check();
  }

  std::vector<MicrographInput> mics = ListMicrographs(inputs, pixel_size);
  MicrographSet set;  // what is written: the input's optics groups (STAR) or one per pixel size
  const bool from_star = inputs.size() == 1 && Extension(inputs[0]) == ".star";
  std::vector<int> group_of(mics.size(), 1);
  if (from_star) {
    const MicrographSet in = ReadMicrographs(inputs[0]);
    set.optics = in.optics;
    for (std::size_t i = 0; i < mics.size(); ++i) group_of[i] = in.micrographs[i].optics_group;
  }
  for (const auto& m : mics)
    if (!FileExists(m.path))
      throw IoError((m.where.empty() ? m.path : m.where + ": micrograph " + m.name) + ": no such file");
  JobFolderOptions f;
  f.dir = out;
  f.inputs = inputs;
  f.output_patterns = {"micrographs.star", "ctf_summary.json", "Spectra/*", "pictures/*"};
  f.overwrite = overwrite;
  const std::unique_ptr<JobFolder> folder = OpenJobFolder(app, argc, argv, f);

  nlohmann::json per = nlohmann::json::array();
  const double t_start = NowSeconds();
  Progress progress("ctf", mics.size());
  for (std::size_t i = 0; i < mics.size(); ++i) {
    MicrographInput& m = mics[i];
    const double t0 = NowSeconds();
    MicrographInfo info;
    const Image image = ReadMicrograph(m.path, &info);
    const double t_read = NowSeconds() - t0;
    if (!(m.pixel_size > 0)) m.pixel_size = info.pixel_size;
    if (!(m.pixel_size > 0))
      throw InvalidInputError(m.path + ": no pixel size in the file or its STAR; give --pixel-size");
    CtfEstimateOptions o = opt;
    o.pixel_size = m.pixel_size;
    if (from_star) {              // optics of the micrograph's group unless given on the command line
      for (auto& g : set.optics)  // the pixel size used: --pixel-size, or the MRC header's where the STAR has none
        if (g.number == group_of[i] && (pixel_size > 0 || !(g.pixel_size > 0))) g.pixel_size = m.pixel_size;
      const OpticsGroup& g = set.Optics(group_of[i]);
      if (voltage->count() == 0) o.voltage_kv = g.voltage_kv;
      if (cs->count() == 0) o.cs_mm = g.cs_mm;
      if (q->count() == 0) o.amplitude_contrast = g.amplitude_contrast;
    } else {
      int group = 0;
      for (const auto& g : set.optics)
        if (std::fabs(g.pixel_size - m.pixel_size) < 1e-6) group = g.number;
      if (group == 0) {
        OpticsGroup g;
        g.number = group = static_cast<int>(set.optics.size()) + 1;
        g.name = "opticsGroup" + std::to_string(g.number);
        g.voltage_kv = o.voltage_kv;
        g.cs_mm = o.cs_mm;
        g.amplitude_contrast = o.amplitude_contrast;
        g.pixel_size = m.pixel_size;
        set.optics.push_back(g);
      }
      group_of[i] = group;
    }
    CtfEstimate e;
    try {
      e = EstimateCtf(image, o);
    } catch (const InvalidInputError& err) {
      throw InvalidInputError((m.where.empty() ? m.path : m.where + ": micrograph " + m.name) + ": " + err.what());
    }
    const double t_fit = NowSeconds() - t0 - t_read;
    const std::string key = m.key.empty() ? MicrographKey(m.name) : m.key;
    const std::string spectrum = JoinPath(JoinPath(out, "Spectra"), key + ".ctf");
    CreateDirectories(ParentDir(spectrum));
    MrcWriteOptions mo;
    mo.pixel_size = m.pixel_size;
    WriteMrc(spectrum, e.DiagnosticImage(), mo);
    if (!no_pictures) {
      const std::string pic = JoinPath(JoinPath(out, "pictures"), key + "_ctf.png");
      CreateDirectories(ParentDir(pic));
      WriteCtfPicture(pic, m.name, e);
    }
    MicrographEntry entry;
    entry.name = m.name;
    entry.optics_group = group_of[i];
    entry.has_ctf = true;
    entry.ctf = e.ctf;
    entry.ctf_image = spectrum + ":mrc";
    entry.ctf_max_resolution = e.fit_resolution;
    entry.ctf_figure_of_merit = e.figure_of_merit;
    set.micrographs.push_back(entry);
    progress.Advance();
    LOG_DEBUG(m.name << ": defocus U " << Fixed(e.ctf.defocus_u, 0) << " V " << Fixed(e.ctf.defocus_v, 0)
                     << " Å, angle " << Fixed(e.ctf.defocus_angle, 1) << ", fit to " << Fixed(e.fit_resolution, 1)
                     << " Å, FOM " << Fixed(e.figure_of_merit, 3) << " (" << Fixed(t_read + t_fit, 2) << " s)");
    per.push_back({{"micrograph", m.name},
                   {"defocus_u", e.ctf.defocus_u},
                   {"defocus_v", e.ctf.defocus_v},
                   {"defocus_angle", e.ctf.defocus_angle},
                   {"phase_shift", e.ctf.phase_shift},
                   {"fit_resolution", e.fit_resolution},
                   {"figure_of_merit", e.figure_of_merit},
                   {"pixel_size", m.pixel_size},
                   {"tiles", e.tiles},
                   {"read_seconds", t_read},
                   {"fit_seconds", t_fit}});
  }
  progress.Finish();
  const double total = NowSeconds() - t_start;
  WriteMicrographs(JoinPath(out, "micrographs.star"), set);
  const nlohmann::json summary = {{"micrographs", mics.size()},
                                  {"threads", opt.threads},
                                  {"seconds_per_micrograph", total / mics.size()},
                                  {"per_micrograph", per}};
  WriteTextFile(JoinPath(out, "ctf_summary.json"), summary.dump(2) + "\n");
  double dmin = 1e30, dmax = 0, rmin = 1e30, rmax = 0;
  for (const auto& e : set.micrographs) {
    const double d = 0.5 * (e.ctf.defocus_u + e.ctf.defocus_v);
    dmin = std::min(dmin, d);
    dmax = std::max(dmax, d);
    rmin = std::min(rmin, e.ctf_max_resolution);
    rmax = std::max(rmax, e.ctf_max_resolution);
  }
  LOG_INFO("CTF of " << mics.size() << " micrograph(s): defocus " << Fixed(dmin / 1e4, 2) << "-" << Fixed(dmax / 1e4, 2)
                     << " µm, fit resolution " << Fixed(rmin, 1) << "-" << Fixed(rmax, 1) << " Å, "
                     << Fixed(total / mics.size(), 2) << " s each -> " << JoinPath(out, "micrographs.star"));
  folder->Complete();
  return 0;
}

EMKIT_REGISTER_COMMAND(RunCtf, "ctf",
                       "Estimate each micrograph's CTF (defocus, astigmatism, fit resolution) into micrographs.star");

}  // namespace emkit
