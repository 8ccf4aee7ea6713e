// `emkit simulate particles`: projections of one or several maps at random (or given)
// orientations and offsets, a CTF per particle and Gaussian noise at a stated SNR, written
// as a .mrcs stack and a RELION 3.1 particles STAR holding the truth.
//
// Conventions (RELION's, pinned by tests):
// - The image holds the projection moved by -origin: rlnOriginX/YAngst is the shift that
//   centres the particle (relion_project does the same).
// - CTF as RELION (+Q at k = 0): a positive map gives white (positive) particles, as
//   RELION's particles look after extraction with contrast inversion (--contrast dark flips
//   the sign, as raw micrographs show protein).
// - SNR = variance of the noiseless CTF-modulated projection over the box / noise variance
//   (science.md §5). One noise sigma for the whole stack: the mean signal variance of the
//   first min(n, 256) particles divided by the SNR.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace emkit {

struct ParticleSimOptions {
  std::vector<std::string> maps;  // MRC maps; rlnClassNumber = index + 1
  std::string phantom;            // or a built-in phantom (PhantomNames())
  double phantom_diameter = 200;  // Å
  int n = 1000;
  int box = 0;            // px; 0 = the map's box (at the output pixel size)
  double pixel_size = 0;  // Å; 0 = the map's (4 Å for a phantom)
  bool rescale = false;   // allow --pixel-size to differ from the map's header
  double snr = 0.05;
  bool ctf = true;
  std::string contrast = "white";                   // white (RELION after extraction with inversion) or dark (raw)
  double defocus_min = 10000, defocus_max = 25000;  // Å
  double astigmatism = 500;                         // Å: |defocusU - defocusV| drawn in [0, astigmatism]
  double voltage = 300, cs = 2.7, amplitude_contrast = 0.1, bfactor = 0;
  double max_offset = -1;  // Å, each axis uniform in [-max, max]; < 0 = 2 pixels
  std::string angles;      // STAR with rlnAngleRot/Tilt/Psi (and origins, CTF): used instead of random
  bool write_noiseless = false;
  bool pictures = false;  // DIR/pictures/particles.png: 8 particles over their noiseless versions
  std::string out;
  int threads = 1;
  uint64_t seed = 42;

  void Check() const;  // throws InvalidInputError naming the option
};

struct ParticleSimResult {
  int count = 0;
  int box = 0;
  double pixel_size = 0;
  double noise_sigma = 0;
  double measured_snr = 0;  // mean signal variance over all particles / noise variance
  std::string stack, star;
};

ParticleSimResult SimulateParticles(const ParticleSimOptions& opt);

}  // namespace emkit
