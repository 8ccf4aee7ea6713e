// Options shared by 2D and 3D classification and refinement (emkit class2d, class3d, refine3d), with RELION's
// defaults; each job adds its own (in-plane sampling and random start in 2D; references, HEALPix
// sampling and symmetry in 3D).
#pragma once

#include <cstdint>
#include <string>

namespace emkit {

struct ClassificationOptions {
  std::string input;          // particles STAR (RELION 3.0/3.1)
  std::string out_dir;        // run_itNNN_* files go here
  std::string continue_from;  // run_itNNN_optimiser.star or _model.star (emkit or RELION)
  int classes = 10;           // K
  int iterations = 25;
  double particle_diameter = 0;  // Å; 0 = 90% of the box
  double tau2_fudge = 2;         // T
  double offset_range = 5;       // pixels
  double offset_step = 1;        // pixels
  bool ctf = true;
  bool only_flip_phases = false;
  bool ctf_intact_first_peak = false;
  bool zero_mask = false;            // zeros (true) or noise (false) outside the particle mask
  bool norm_correction = false;      // RELION --norm: per-particle intensity (rlnNormCorrection)
  bool scale_correction = false;     // RELION --scale: per-group intensity (rlnGroupScaleCorrection)
  double adaptive_fraction = 0.999;  // significant samples: smallest set with this much weight
  int incr_size = 10;                // Fourier pixels beyond the estimated resolution
  double mask_edge_px = 5;
  int chunk_size = 0;  // particles per E-step block (0: from K, box, sampling; never from threads/ranks)
  int threads = 1;
  uint64_t seed = 42;
  bool write_png = true;
  bool ignore_input_offsets = false;  // start every particle at offset 0 (e.g. simulated truth in the STAR)
  // RELION's --strict_highres_exp (Å; 0: off): the probabilities (orientations, offsets, classes)
  // come only from the frequencies below this; the classes or maps are still reconstructed to the
  // current resolution. On weak data the classes then follow the large differences between the
  // particles, which the low frequencies carry, rather than the noise of the high ones.
  double strict_highres_exp = 0;

  // Throws InvalidInputError naming the bad option; `program` prefixes the message.
  void CheckShared(const std::string& program) const;
};

}  // namespace emkit
