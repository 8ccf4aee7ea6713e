// emkit fsc: Fourier shell correlation of two maps, its table (STAR) and plot (PNG).
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "apps/command_line.h"
#include "core/error.h"
#include "io/mrc.h"
#include "io/plot.h"
#include "refine/fsc.h"

namespace emkit {

int RunFscCommand(int argc, char** argv) {
  CLI::App app("Fourier shell correlation of two maps (or two images) of one size", argv[0]);
  std::vector<std::string> maps;
  std::string out;
  double pixel_size = 0;
  CommonOptions common;
  AddInput(app, maps, "Two MRC maps", "maps")->required()->expected(2);
  AddOutput(app, out, "Write OUT.star (the FSC table) and OUT.png (the plot)");
  app.add_option("--pixel-size,--angpix", pixel_size, "Pixel size in Å (0: from the first map's header)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  AddCommonOptions(app, &common);
  if (int rc = ParseCommandLine(app, argc, argv); rc >= 0) return rc;
  const int threads = ApplyCommonOptions(&common);
  MrcHeader ha, hb;
  const Image a = ReadMrc(maps[0], &ha), b = ReadMrc(maps[1], &hb);
  if (!a.SameShape(b))
    throw InvalidInputError(maps[1] + ": " + std::to_string(b.nx()) + "x" + std::to_string(b.ny()) + "x" +
                            std::to_string(b.nz()) + " differs from " + maps[0] + " (" + std::to_string(a.nx()) + "x" +
                            std::to_string(a.ny()) + "x" + std::to_string(a.nz()) + ")");
  for (const auto* m : {&a, &b})
    for (float v : *m)
      if (!std::isfinite(v)) throw InvalidInputError((m == &a ? maps[0] : maps[1]) + ": non-finite values");
  if (!(pixel_size > 0) && !(ha.PixelSize() > 0))
    throw InvalidInputError(maps[0] + ": no pixel size in the header: give --pixel-size");
  const double apix = pixel_size > 0 ? pixel_size : ha.PixelSize();
  const std::vector<double> fsc = Fsc(a, b, threads);
  const int n = a.nx();
  const double r143 = FscResolution(fsc, 0.143, n, apix), r05 = FscResolution(fsc, 0.5, n, apix);
  if (!common.quiet) {
    std::printf("shell  resolution_A  fsc\n");
    for (std::size_t s = 1; s < fsc.size(); ++s)
      std::printf("%5zu  %12.2f  %.4f\n", s, ShellResolution(static_cast<int>(s), n, apix), fsc[s]);
    std::printf("FSC 0.143: %.2f Å   FSC 0.5: %.2f Å   (%d px, %.3f Å/px)\n", r143, r05, n, apix);
  }
  if (!out.empty()) {
    WriteFscStar(out + ".star", fsc, n, apix);
    LinePlot p;
    p.title = "FSC 0.143: " + std::to_string(r143).substr(0, 5) + " A";
    p.x_label = "resolution (A)";
    p.y_label = "FSC";
    p.x_max = 1 / (2 * apix);
    p.y_min = std::min(0.0, *std::min_element(fsc.begin(), fsc.end()));
    p.h_lines = {0.143, 0.5};
    p.x_tick_text = [](double f) {
      char buf[16];
      if (f <= 0) return std::string("inf");
      std::snprintf(buf, sizeof buf, "%.1f", 1 / f);
      return std::string(buf);
    };
    PlotCurve c;
    c.label = maps[0].substr(maps[0].find_last_of('/') + 1) + " vs " + maps[1].substr(maps[1].find_last_of('/') + 1);
    for (std::size_t s = 0; s < fsc.size(); ++s) {
      c.x.push_back(double(s) / (n * apix));
      c.y.push_back(fsc[s]);
    }
    p.curves.push_back(c);
    WriteLinePlotPng(out + ".png", p);
  }
  return 0;
}

EMKIT_REGISTER_COMMAND(RunFscCommand, "fsc", "Fourier shell correlation of two maps (table and plot)");

}  // namespace emkit
