// emkit simulate particles|micrographs: ground-truth data (simulate/particles.h, micrographs.h).
#include <cstdio>

#include "apps/command_line.h"
#include "core/log.h"
#include "simulate/micrographs.h"
#include "simulate/particles.h"

namespace emkit {
namespace {

template <class O>
void AddOpticsOptions(CLI::App* app, O* o) {
  app->add_option("--defocus-min", o->defocus_min, "Smallest defocus (Å, underfocus positive)")->capture_default_str();
  app->add_option("--defocus-max", o->defocus_max, "Largest defocus (Å)")->capture_default_str();
  app->add_option("--astigmatism", o->astigmatism, "Largest |defocusU - defocusV| (Å)")->capture_default_str();
  app->add_option("--voltage", o->voltage, "Acceleration voltage (kV)")->capture_default_str();
  app->add_option("--cs", o->cs, "Spherical aberration (mm)")->capture_default_str();
  app->add_option("--q", o->amplitude_contrast, "Amplitude contrast")->capture_default_str();
}

template <class O>
void AddMapOptions(CLI::App* app, O* o) {
  AddInput(*app, o->maps, "MRC map(s) to project (repeatable; rlnClassNumber = which)", "--map")
      ->check(CLI::ExistingFile);
  app->add_option("--phantom", o->phantom, "Built-in phantom instead of a map: asym, asym-broken, rod, gaussian");
  app->add_option("--diameter", o->phantom_diameter, "Phantom diameter (Å)")->capture_default_str();
  app->add_option("--pixel-size", o->pixel_size,
                  "Pixel size (Å); 0 = the map's (4 for a phantom); required when the map header has none")
      ->capture_default_str();
  app->add_flag("--rescale", o->rescale, "Allow --pixel-size to differ from the map header (resample the map)");
  app->add_option("--snr", o->snr, "Signal-to-noise ratio (variance of the CTF-modulated signal / noise variance)")
      ->capture_default_str();
  AddOutput(*app, o->out, "Output folder")->required();
}

}  // namespace

int RunSimulate(int argc, char** argv) {
  CLI::App app("Simulate ground-truth particle stacks or micrographs from a map or a built-in phantom", argv[0]);
  app.require_subcommand(1);
  app.fallthrough();  // --threads, --seed ... may follow the subcommand
  CommonOptions common;
  AddCommonOptions(app, &common);
  bool overwrite = false;
  AddOverwriteOption(app, &overwrite);

  ParticleSimOptions p;
  CLI::App* pa =
      app.add_subcommand("particles", "Particle stack (.mrcs) + RELION 3.1 STAR with true angles, offsets, CTF");
  AddMapOptions(pa, &p);
  pa->add_option("--n", p.n, "Number of particles")->capture_default_str();
  pa->add_option("--box", p.box, "Box (px); 0 = the map's box at the output pixel size")->capture_default_str();
  pa->add_flag(
      "--no-ctf", [&p](int64_t) { p.ctf = false; }, "Do not apply a CTF");
  pa->add_option("--contrast", p.contrast, "white (RELION particles after inversion) or dark (raw)")
      ->capture_default_str();
  pa->add_option("--bfactor", p.bfactor, "CTF B-factor envelope (Å^2)")->capture_default_str();
  pa->add_option("--max-offset", p.max_offset, "Largest offset per axis (Å); < 0 = 2 pixels")->capture_default_str();
  pa->add_option("--angles", p.angles,
                 "STAR with rlnAngleRot/Tilt/Psi (+ origins, CTF, class) to use instead of random")
      ->check(CLI::ExistingFile);
  pa->add_flag("--write-noiseless", p.write_noiseless, "Also write particles_noiseless.mrcs");
  pa->add_flag("--pictures", p.pictures, "Also write pictures/particles.png");
  AddOpticsOptions(pa, &p);

  MicrographSimOptions m;
  CLI::App* ma =
      app.add_subcommand("micrographs", "Micrographs (.mrc) + micrographs.star + true coordinates per micrograph");
  AddMapOptions(ma, &m);
  ma->add_option("--n", m.n, "Number of micrographs")->capture_default_str();
  int size = 4096, nx = 0, ny = 0;
  ma->add_option("--size", size, "Square micrograph size (px)")->capture_default_str();
  ma->add_option("--nx", nx, "Micrograph width (px); 0 = --size")->capture_default_str();
  ma->add_option("--ny", ny, "Micrograph height (px); 0 = --size")->capture_default_str();
  ma->add_option("--particles", m.particles, "Particles per micrograph; 0 = from --density")->capture_default_str();
  ma->add_option("--density,--coverage", m.coverage,
                 "Fraction of the area covered by particles (when --particles is 0)")
      ->capture_default_str();
  ma->add_option("--particle-diameter", m.particle_diameter, "Particle diameter (Å); 0 = from the map")
      ->capture_default_str();
  ma->add_option("--touching", m.touching, "Fraction of particles placed touching another")->capture_default_str();
  ma->add_option("--contrast", m.contrast, "dark (raw micrographs) or white (inverted)")->capture_default_str();
  ma->add_option("--ice-blobs", m.ice_blobs, "Mean number of ice contaminations per micrograph")->capture_default_str();
  ma->add_option("--aggregates", m.aggregates, "Mean number of aggregates per micrograph")->capture_default_str();
  ma->add_option("--carbon-edge", m.carbon_edge, "Probability of a carbon edge per micrograph")->capture_default_str();
  ma->add_flag(
      "--no-decoys",
      [&m](int64_t) {
        m.ice_blobs = m.aggregates = 0;
        m.carbon_edge = 0;
      },
      "No ice blobs, aggregates or carbon");
  ma->add_option("--hard-negatives", m.hard_negatives, "none, broken (damaged particle) or rod (second species)")
      ->capture_default_str();
  ma->add_option("--hard-negative-fraction", m.hard_negative_fraction, "Hard negatives per particle")
      ->capture_default_str();
  ma->add_option("--bfactor-min", m.bfactor_min, "Smallest per-micrograph B-factor (Å^2)")->capture_default_str();
  ma->add_option("--bfactor-max", m.bfactor_max, "Largest per-micrograph B-factor (Å^2)")->capture_default_str();
  ma->add_option("--noise-colour", m.noise_colour, "Fraction of noise power at low frequency (0 = white)")
      ->capture_default_str();
  ma->add_option("--ice-ctf", m.ice_ctf,
                 "Fraction of the noise power that passes the CTF (ice phase contrast: Thon rings as in real "
                 "micrographs; 0 = white/coloured noise only)")
      ->capture_default_str();
  ma->add_option("--mtf", m.mtf, "Detector MTF: sinc(pi f/2)^mtf per axis on signal and noise (0 = none)")
      ->capture_default_str();
  ma->add_option("--ice-gradient", m.ice_gradient, "Slow ice-thickness background (noise sigmas)")
      ->capture_default_str();
  ma->add_flag("--write-noiseless", m.write_noiseless, "Also write noiseless/mic_NNNN.mrc");
  ma->add_flag("--pictures", m.pictures, "Also write pictures/mic_NNNN.png (first 3) with the truth circled");
  AddOpticsOptions(ma, &m);

  AddRangeChecks(app, {{"--defocus-min", NonNegative()},
                       {"--defocus-max", NonNegative()},
                       {"--astigmatism", NonNegative()},
                       {"--voltage", Positive()},
                       {"--cs", NonNegative()},
                       {"--q", InRange(0.0, 1.0)},
                       {"--diameter", Positive()},
                       {"--pixel-size", NonNegative()},
                       {"--snr", Positive()},
                       {"--n", InRange(1, 100000000)},
                       {"--box", InRange(0, 8192)},
                       {"--bfactor", NonNegative()},
                       {"--size", InRange(16, kMaxImageSide)},
                       {"--nx", InRange(0, kMaxImageSide)},
                       {"--ny", InRange(0, kMaxImageSide)},
                       {"--particles", NonNegative()},
                       {"--density", InRange(0.0, 1.0)},
                       {"--particle-diameter", NonNegative()},
                       {"--touching", InRange(0.0, 1.0)},
                       {"--ice-blobs", NonNegative()},
                       {"--aggregates", NonNegative()},
                       {"--carbon-edge", InRange(0.0, 1.0)},
                       {"--hard-negative-fraction", NonNegative()},
                       {"--bfactor-min", NonNegative()},
                       {"--bfactor-max", NonNegative()},
                       {"--noise-colour", InRange(0.0, 1.0)},
                       {"--mtf", NonNegative()},
                       {"--ice-gradient", NonNegative()}});
  if (int rc = ParseCommandLine(app, argc, argv); rc >= 0) return rc;
  const int threads = ApplyCommonOptions(&common);
  JobFolderOptions f;
  f.dir = pa->parsed() ? p.out : m.out;
  f.inputs = pa->parsed() ? p.maps : m.maps;
  if (pa->parsed()) f.inputs.push_back(p.angles);
  f.output_patterns = {"particles.star",   "particles.mrcs", "particles_noiseless.mrcs",
                       "micrographs.star", "truth.star",     "micrographs/*",
                       "truth/*",          "noiseless/*",    "pictures/*"};
  f.overwrite = overwrite;
  const std::unique_ptr<JobFolder> folder = OpenJobFolder(app, argc, argv, f);
  if (pa->parsed()) {
    p.threads = threads;
    p.seed = common.seed;
    const ParticleSimResult r = SimulateParticles(p);
    std::printf("%d particles (%d px, %.4g Å/px, SNR %.4g) -> %s\n", r.count, r.box, r.pixel_size, r.measured_snr,
                r.star.c_str());
  } else {
    m.threads = threads;
    m.seed = common.seed;
    m.nx = nx > 0 ? nx : size;
    m.ny = ny > 0 ? ny : size;
    const MicrographSimResult r = SimulateMicrographs(m);
    std::printf("%d micrographs (%.4g Å/px): %d particles, %d hard negatives, %d decoys, SNR %.4g -> %s\n",
                r.micrographs, r.pixel_size, r.targets, r.hard_negatives, r.decoys, r.mean_measured_snr, m.out.c_str());
  }
  folder->Complete();
  return 0;
}

EMKIT_REGISTER_COMMAND(RunSimulate, "simulate", "Simulate particle stacks or micrographs with ground truth");

}  // namespace emkit
