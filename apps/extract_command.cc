// emkit extract: particle boxes from micrographs at picked coordinates (picker/extract.h).
#include <cstdio>

#include "apps/command_line.h"
#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "io/particles.h"
#include "picker/extract.h"
#include "picker/pick.h"

namespace emkit {

int RunExtract(int argc, char** argv) {
  CLI::App app("Extract particles: boxes around coordinates -> .mrcs stacks + particles.star (RELION 3.1)", argv[0]);
  std::vector<std::string> micrographs;
  std::string coordinates, out, format = "auto";
  double pixel_size = 0;
  ExtractOptions opt;
  bool no_normalise = false, flip_y = false, overwrite = false;
  int height = 0;
  CommonOptions common;
  AddInput(app, micrographs,
           "Micrographs: a micrographs STAR (with CTF: emkit ctf's, or pick's), or .mrc/.tif/.png/.jpg files, globs "
           "or folders (no CTF)",
           "--micrographs")
      ->required();
  app.add_option("--pixel-size", pixel_size, "Micrograph pixel size (Å); 0 = from the STAR or MRC header")
      ->capture_default_str();
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
  AddRangeChecks(app, {{"--pixel-size", NonNegative()},
                       {"--image-height", InRange(0, kMaxImageSide)},
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
  // A micrographs STAR as it is (its optics, CTF and names), or the micrographs pick would take.
  const bool star = micrographs.size() == 1 && Extension(micrographs[0]) == ".star";
  MicrographSet set;
  if (star) {
    set = ReadMicrographs(micrographs[0]);
    if (pixel_size > 0)
      for (auto& g : set.optics) g.pixel_size = pixel_size;
  } else {
    std::vector<MicrographInput> inputs = ListMicrographs(micrographs, pixel_size);
    for (const auto& in : inputs)
      if (!FileExists(in.path)) throw IoError(in.path + ": no such file");
    FillPixelSizes(&inputs);
    set = MicrographSetOf(inputs);
  }
  const std::string source = star ? micrographs[0] : "micrographs " + micrographs[0];
  JobFolderOptions f;
  f.dir = out;
  f.inputs = micrographs;
  f.inputs.push_back(coordinates);
  f.output_patterns = {"particles.star", "Particles/*"};
  f.overwrite = overwrite;
  const std::unique_ptr<JobFolder> folder = OpenJobFolder(app, argc, argv, f);
  const ExtractSummary s = ExtractParticles(set, source, coordinates, io, out, opt);
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
