// emkit class3d: regularised maximum-likelihood 3D classification (RELION 3.1's Class3D with a
// reference, science.md §3.1): K maps start from one reference low-passed to --ini-high, the
// particles are scored against central sections of every map in every HEALPix orientation x psi
// and translation (the E-step kernel of 2D classification, on projected references; optionally
// coarse to fine, as RELION's adaptive oversampling), their weighted sums are back-projected
// exactly (fixed point) and each map is reconstructed with tau2 = T x its power spectrum.
// Threads x MPI ranks, bit-identical for any count.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/image.h"
#include "refine/classification_options.h"
#include "refine/communicator.h"

namespace emkit {

struct Class3dOptions : ClassificationOptions {
  Class3dOptions() {
    classes = 4;     // RELION's Class3D default
    tau2_fudge = 4;  // RELION's Class3D default T
  }
  std::string reference;      // starting map (box^3 at the particles' pixel size)
  double ini_high = 60;       // Å: the reference is low-passed to this (0: not at all)
  bool firstiter_cc = false;  // first iteration by cross-correlation (a reference not on the particles' greyscale)
  int healpix_order = 2;      // 15 degrees (RELION's --healpix_order)
  // RELION's --oversampling: 1 scores the grid coarse to fine (the children, order + 1, of each
  // particle's significant coarse orientations, with each significant offset split into 4 at half
  // the step, at the current size; RELION's default), 0 only the grid (emkit's default). On the
  // two-conformation ribosome benchmark (2000 particles at SNR 0.05) coarse to fine separates the
  // conformations best with --strict-highres-exp 40 (93% after 10 iterations, the grid alone 77%
  // after 25), and lets one class take every particle without a limit, where the grid alone keeps
  // two classes that do not follow the conformations (benchmarks/results/class3d/oversampling.md).
  int adaptive_oversampling = 0;
  // With adaptive oversampling, like RELION's --maxsig: the children of at most this many of each
  // particle's significant coarse orientations per class (the class's heaviest) are scored.
  // 0: 100 (RELION 4 caps 3D at 100 samples per class); -1: all of them (RELION 3.1's default).
  int max_significant = 0;
  // RELION's --perturb: every iteration the whole sampling (orientations and translations) moves
  // by a random fraction of its steps, |fraction| <= perturb (RELION: 0.5), so that the maps are
  // not built from orientations on one fixed grid; 0 turns it off.
  double perturb = 0.5;
  // MB per rank for projections made once and reused (the grid's references; with adaptive
  // oversampling the coarse grid's, then the children particles share); the others are projected
  // each time they are scored: slower, the same results.
  int projection_memory = 512;
  // RELION's --skip_align: each particle keeps its orientation and offsets (from the input STAR)
  // and is scored against every class in that one pose: classification of aligned particles (after
  // a consensus refinement), where only the classes are hidden.
  bool skip_align = false;
  std::string symmetry = "C1";  // point group (RELION's --sym)
  int pad = 2;                  // oversampling of projector and back-projector
  int minres_map = 5;           // shells below are not regularised (RELION's --minres_map)
  bool flatten_solvent = true;  // soft spherical mask of --particle-diameter on the maps
  // Called on rank 0 after each iteration's files are written (e.g. to draw the class sizes).
  std::function<void(const struct Class3dResult&)> on_iteration;

  void Check() const;  // throws InvalidInputError naming the bad option
};

struct Class3dResult {
  int first_iteration = 0, last_iteration = 0;
  std::vector<double> seconds_per_iteration;
  std::vector<std::vector<double>> class_sizes;  // per iteration (from 1), per class: fraction
  std::string last_model_star, last_data_star;
  std::vector<std::string> last_maps;
};

// Runs the job; every rank calls it. Only rank 0 writes files.
Class3dResult RunClass3d(const Class3dOptions& options, Communicator& comm, const std::string& command_line = "");

// RELION's lowPassFilterMap: Fourier shells beyond N x pixel / resolution zeroed over a raised-cosine
// edge of 2 shells.
void LowPassMap(Image* map, double pixel_size, double resolution);

}  // namespace emkit
