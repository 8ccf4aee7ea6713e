// emkit reconstruct: a 3D map from particles with known orientations (relion_reconstruct's job):
// each image, shifted by its origin and multiplied by its CTF, is inserted into a BackProjector;
// the sums are reduced exactly over threads and ranks, symmetrised and reconstructed.
#pragma once

#include <cstdint>
#include <string>

#include "refine/communicator.h"

namespace emkit {

struct ReconstructOptions {
  std::string input;    // particles STAR with rlnAngleRot/Tilt/Psi and origins
  std::string output;   // map (.mrc)
  std::string picture;  // optional PNG of the map's central sections and projections
  std::string symmetry = "C1";
  bool ctf = false;               // multiply by the CTF and weight by CTF^2 (relion_reconstruct --ctf)
  bool only_flip_phases = false;  // with ctf: use the sign of the CTF only
  double maxres = 0;              // Å; 0 = Nyquist
  int pad = 2;
  int iterations = 10;    // gridding-correction rounds
  int subset = 0;         // 1 or 2: only particles of that rlnRandomSubset
  int class_number = 0;   // > 0: only particles of that rlnClassNumber
  double pixel_size = 0;  // Å; 0 = from the STAR file's optics
  int threads = 1;

  void Check() const;  // throws InvalidInputError naming the bad option
};

struct ReconstructResult {
  long particles = 0;
  int box = 0, r_max = 0;
  double pixel_size = 0;
  double seconds = 0;
};

// Every rank calls it; rank 0 writes the map.
ReconstructResult RunReconstruct(const ReconstructOptions& options, Communicator& comm);

}  // namespace emkit
