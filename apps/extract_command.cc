// emkit extract: particle boxes from micrographs at picked coordinates (picker/extract.h).
#include <cstdio>

#include "apps/command_line.h"
#include "core/files.h"
#include "core/log.h"
#include "picker/extract.h"

namespace emkit {

int RunExtract(int argc, char** argv) {
  CLI::App app("Extract particles: boxes around coordinates -> .mrcs stacks + particles.star (RELION 3.1)", argv[0]);
  std::string micrographs, coordinates, out, format = "auto";
  ExtractOptions opt;
  bool no_normalise = false, flip_y = false, overwrite = false;
  int height = 0;
  CommonOptions common;
  AddInput(app, micrographs, "Micrographs STAR (names, CTF, optics)", "--micrographs")->required();
  app.add_option("-c,--coords", coordinates,
                 "Folder of per-micrograph coordinate files (star/box/csv/topaz) or a combined STAR (required)");
  AddDeprecatedOption(app, "--coordinates", "--coords", coordinates);
  app.add_option("--coords-format", format, "auto, star, box, csv, topaz")->capture_default_str();
  AddDeprecatedOption(app, "--coordinates-format", "--coords-format", format);
  app.add_flag("--flip-y", flip_y, "Coordinates count y from the other edge (needs --image-height)");
  app.add_option("--image-height", height, "Micrograph height (px of the micrographs) for --flip-y")
      ->capture_default_str();
  AddOutput(app, out, "Output folder (Particles/*.mrcs, particles.star)")->required();
  app.add_option("--box", opt.box, "Box size in micrograph pixels (even)")->required();
  app.add_option("--rescale", opt.rescale, "Rescale boxes to this size (Fourier); 0 = keep")->capture_default_str();
  app.add_flag("--invert-contrast,--invert_contrast", opt.invert_contrast, "Multiply by -1 (dark particles -> white)");
  app.add_flag("--no-normalise", no_normalise, "Skip background normalisation");
  app.add_option("--bg-radius", opt.bg_radius,
                 "Background outside this radius (px of the output box); 0 = 75% of half the box")
      ->capture_default_str();
  AddOverwriteOption(app, &overwrite);
  AddRangeChecks(app, {{"--image-height", InRange(0, kMaxImageSide)},
                       {"--box", InRange(8, kMaxImageSide)},
                       {"--rescale", InRange(0, kMaxImageSide)},
                       {"--bg-radius", NonNegative()}});
  AddCommonOptions(app, &common);
  if (int rc = ParseCommandLine(app, argc, argv); rc >= 0) return rc;
  if (coordinates.empty()) {  // required, under either spelling
    std::fprintf(stderr, "emkit: error: --coords is required (see '%s --help')\n", app.get_name().c_str());
    return 2;
  }
  opt.threads = ApplyCommonOptions(&common);
  opt.normalise = !no_normalise;
  CoordinateIoOptions io;
  io.format = ParseCoordinateFormat(format);
  io.flip_y = flip_y;
  io.image_height = height;
  io.box_size = opt.box;
  JobFolderOptions f;
  f.dir = out;
  f.inputs = {micrographs, coordinates};
  f.output_patterns = {"particles.star", "Particles/*"};
  f.overwrite = overwrite;
  const std::unique_ptr<JobFolder> folder = OpenJobFolder(app, argc, argv, f);
  const ExtractSummary s = ExtractParticles(micrographs, coordinates, io, out, opt);
  folder->Complete();
  LOG_INFO("extracted " << s.particles << " particles (" << opt.OutputBox() << " px, " << s.output_pixel_size
                        << " Å/px) from " << s.micrographs - s.micrographs_without_coordinates << " of "
                        << s.micrographs << " micrographs; " << s.skipped_at_edge << " skipped at the edges -> "
                        << JoinPath(out, "particles.star"));
  std::printf("%d particles, %d skipped at the edge, %d micrograph(s) without coordinates\n", s.particles,
              s.skipped_at_edge, s.micrographs_without_coordinates);
  return 0;
}

EMKIT_REGISTER_COMMAND(RunExtract, "extract", "Extract particles into .mrcs stacks and a RELION 3.1 particles.star");

}  // namespace emkit
