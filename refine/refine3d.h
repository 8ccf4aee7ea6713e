// emkit refine3d: gold-standard 3D auto-refinement (RELION 3.1's Refine3D, science.md §3.1). The
// particles are split into two random halves (rlnRandomSubset; existing assignments kept), each
// refined against its own map; the two maps are joined below --low-resol-join-halves, and their
// FSC gives tau2 (SSNR = FSC / (1 - FSC)), the resolution and the image size. The sampling gets
// finer as RELION's auto-sampling decides (refine/auto_sampling.h), with local searches from
// --auto-local-healpix-order; once converged, one last iteration joins the halves at full size.
// Threads x MPI ranks; bit-identical for a seed whatever their number.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "refine/classification_options.h"
#include "refine/communicator.h"

namespace emkit {

struct Refine3dResult;

struct Refine3dOptions : ClassificationOptions {
  Refine3dOptions() {
    classes = 1;
    tau2_fudge = 1;   // RELION's auto-refine T
    iterations = 50;  // the most iterations before stopping unconverged
  }
  std::string reference;                                    // starting map (box^3 at the particles' pixel size)
  double ini_high = 60;                                     // Å: the reference is low-passed to this
  bool firstiter_cc = false;                                // first iteration by cross-correlation
  int healpix_order = 2;                                    // first (global) sampling: 15 degrees
  int auto_local_healpix_order = 4;                         // local searches from this order on
  std::string symmetry = "C1";                              // point group
  double perturb = 0.5;                                     // the sampling moves at random each iteration (RELION)
  int projection_memory = 512;                              // MB per rank of reused projections (as class3d)
  int pad = 2;                                              // oversampling of projector and back-projector
  int minres_map = 5;                                       // shells below are not regularised
  double low_resol_join_halves = 40;                        // Å: the halves' sums are averaged below this (0: never)
  std::string solvent_mask;                                 // map of 0..1 multiplied into the maps each iteration
  bool flatten_solvent = true;                              // without a mask: a soft sphere of --particle-diameter
  std::function<void(const Refine3dResult&)> on_iteration;  // rank 0, after each iteration's files

  void Check() const;  // throws InvalidInputError naming the bad option
};

struct Refine3dIteration {
  int iteration = 0;
  double seconds = 0;
  double resolution = 0;  // Å after the iteration
  int current_size = 0;   // image size the E-step used
  int healpix_order = 0;
  bool local = false;
  double offset_step_px = 0, offset_range_px = 0;
  double acc_rot = 999, acc_trans = 999;  // degrees, Å
  double changes_orientations = 0, changes_offsets = 0;
  double ave_pmax = 0;
  double peak_memory_mb = 0;  // the largest rank's peak resident set up to the end of the iteration
};

struct Refine3dResult {
  int first_iteration = 0, last_iteration = 0;
  bool converged = false;
  std::vector<Refine3dIteration> iterations;
  int box = 0;
  double pixel_size = 0;
  std::vector<double> fsc;      // half-map FSC of the last iteration
  double final_resolution = 0;  // Å (FSC of the halves at 0.143 when converged)
  std::string final_map, half_maps[2], model_star, data_star;
};

// Runs the job; every rank calls it. Only rank 0 writes files.
Refine3dResult RunRefine3d(const Refine3dOptions& options, Communicator& comm, const std::string& command_line = "");

}  // namespace emkit
