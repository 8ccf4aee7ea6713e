// `emkit simulate micrographs`: whole micrographs with ground truth. Per micrograph (its own
// Rng streams, so results do not depend on --threads):
//   1. layout: optional carbon edge, ice blobs, aggregates, then target particles at random
//      non-overlapping positions (a fraction placed touching a neighbour), then hard
//      negatives (a broken particle or a second species);
//   2. phase signal: projections of every object summed into one canvas, multiplied by the
//      micrograph's CTF (defocus, astigmatism, B-factor envelope) in Fourier space, so CTF
//      delocalisation reaches beyond each particle as in real data;
//   3. noise: Gaussian, coloured (white + a low-frequency component), of variance
//      var(signal over the target particles' discs) / SNR; signal and noise both pass the
//      detector's pixel MTF (SNR measured after it);
//   4. amplitude contrast of thick objects (ice blobs, carbon) and a slow ice-thickness
//      gradient; contrast sign (raw micrographs: dark particles).
// Writes DIR/micrographs/mic_NNNN.mrc, DIR/micrographs.star (CTF + optics),
// DIR/truth/mic_NNNN.star (targets: rlnCoordinateX/Y in pixels, x = column, y = row,
// angles, rlnClassNumber = which --map), DIR/truth/mic_NNNN_decoys.star (everything else,
// with emkitDecoyType) and DIR/truth.star (all targets, RELION 3.1 particles with CTF).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace emkit {

struct MicrographSimOptions {
  std::vector<std::string> maps;  // targets; rlnClassNumber = index + 1
  std::string phantom;            // or a built-in phantom
  double phantom_diameter = 200;  // Å
  double particle_diameter = 0;   // Å, for spacing and truth; 0 = estimated from each map
  int n = 10;                     // micrographs
  int nx = 4096, ny = 4096;
  double pixel_size = 0;  // Å; 0 = the map's (4 Å for a phantom)
  bool rescale = false;
  int particles = 0;       // per micrograph; 0 = from coverage
  double coverage = 0.15;  // fraction of the area covered by target discs
  double snr = 0.05;
  double touching = 0.1;                  // fraction of targets placed touching another particle
  std::string contrast = "dark";          // dark (raw micrographs) or white (inverted)
  int ice_blobs = 2, aggregates = 2;      // mean per micrograph (Poisson)
  double carbon_edge = 0.3;               // probability of a carbon edge per micrograph
  std::string hard_negatives = "broken";  // none, broken, rod
  double hard_negative_fraction = 0.1;    // relative to the number of targets
  double defocus_min = 10000, defocus_max = 25000, astigmatism = 500;
  double voltage = 300, cs = 2.7, amplitude_contrast = 0.1;
  double bfactor_min = 30, bfactor_max = 120;  // Å^2, per micrograph envelope
  double noise_colour = 0.25;                  // fraction of the noise power in the low-frequency part
  // Fraction of the noise power that is phase contrast of the ice and support (it passes the
  // micrograph's CTF, envelope included, as the particles do): the Thon rings of real micrographs.
  double ice_ctf = 0;
  double mtf = 1;                // detector MTF sinc(pi f / 2)^mtf per axis on signal and noise; 0 = none
  double ice_gradient = 0.3;     // slow background amplitude, in noise sigmas
  bool pictures = false;         // DIR/pictures/mic_NNNN.png (first 3) with the truth drawn in
  bool write_noiseless = false;  // also DIR/noiseless/mic_NNNN.mrc: the CTF-modulated particles only
  std::string out;
  int threads = 1;
  uint64_t seed = 42;

  void Check() const;
};

struct MicrographSimResult {
  int micrographs = 0;
  int targets = 0, hard_negatives = 0, decoys = 0;
  int skipped = 0;  // objects that found no free place
  double mean_measured_snr = 0;
  double pixel_size = 0;
  std::vector<std::string> files;
};

MicrographSimResult SimulateMicrographs(const MicrographSimOptions& opt);

}  // namespace emkit
