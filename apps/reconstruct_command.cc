// emkit reconstruct: a 3D map from particles with known orientations (relion_reconstruct).
// Under `mpirun -np N emkit reconstruct ...` the particles are split across the ranks.
#include <cstdio>
#include <filesystem>

#include "apps/command_line.h"
#include "core/error.h"
#include "refine/communicator.h"
#include "refine/reconstruct.h"

namespace emkit {

int RunReconstructCommand(int argc, char** argv) {
  CLI::App app("3D reconstruction from particles with known orientations (relion_reconstruct); runs under mpirun too",
               argv[0]);
  ReconstructOptions o;
  CommonOptions common;
  AddInput(app, o.input, "Particles STAR file with rlnAngleRot/Tilt/Psi and rlnOriginX/YAngst")->required();
  AddOutput(app, o.output, "Output map (.mrc)")->required();
  app.add_option("--sym", o.symmetry, "Point group: C<n>, D<n>, T, O, I")->capture_default_str();
  app.add_flag("--ctf", o.ctf, "Correct for the CTF (images x CTF, weights CTF^2)");
  app.add_flag("--only-flip-phases,--only_flip_phases", o.only_flip_phases, "With --ctf: use only the CTF's sign");
  app.add_option("--maxres", o.maxres, "Highest resolution used, Å (0: Nyquist)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--pad", o.pad, "Oversampling of the Fourier volume")->capture_default_str()->check(CLI::Range(1, 4));
  app.add_option("--iter", o.iterations, "Gridding-correction iterations")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--subset", o.subset, "Only particles of this rlnRandomSubset (1 or 2; 0: all)")
      ->capture_default_str()
      ->check(CLI::Range(0, 2));
  app.add_option("--class", o.class_number, "Only particles of this rlnClassNumber (0: all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--pixel-size,--angpix", o.pixel_size, "Pixel size in Å (0: from the STAR file)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  bool png = false;
  app.add_flag("--png", png, "Also write OUT.png: the map's central sections over its projections along z, y, x");
  AddCommonOptions(app, &common);
  if (int rc = ParseCommandLine(app, argc, argv); rc >= 0) return rc;
  o.threads = ApplyCommonOptions(&common);
  if (png) {
    const std::size_t dot = o.output.find_last_of('.'), slash = o.output.find_last_of('/');
    o.picture =
        (dot != std::string::npos && (slash == std::string::npos || dot > slash) ? o.output.substr(0, dot) : o.output) +
        ".png";
  }
  o.Check();
  std::unique_ptr<Communicator> comm = MakeCommunicator();
  // Any rank's error ends every rank (with its message) instead of leaving the others waiting.
  RunOnAllRanks(*comm, "emkit reconstruct", [&] {
    const ReconstructResult r = RunReconstruct(o, *comm);
    if (comm->is_root() && !common.quiet)
      std::printf("reconstruct: %ld particles, box %d, %.3f Å/px, Fourier radius %d px -> %s (%.1f s)\n", r.particles,
                  r.box, r.pixel_size, r.r_max, o.output.c_str(), r.seconds);
  });
  return 0;
}

EMKIT_REGISTER_COMMAND(RunReconstructCommand, "reconstruct",
                       "3D map from particles with known orientations (threads x MPI)");

}  // namespace emkit
