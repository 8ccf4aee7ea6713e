// Pieces shared by the 3D jobs (class3d, refine3d): the starting map, the initial noise model,
// the resolution rule, and the pictures and STAR files every iteration writes.
#pragma once

#include <string>
#include <vector>

#include "core/geometry.h"
#include "core/image.h"
#include "refine/class2d_model.h"
#include "refine/classification_options.h"
#include "refine/communicator.h"
#include "refine/particle_job.h"

namespace emkit {

// The starting map (`option` names the flag in errors): a cube of the particles' box and pixel
// size (refused naming the file otherwise), low-passed to `ini_high` Å (RELION's lowPassFilterMap).
Volume ReadStartingMap(const std::string& path, const std::string& option, int box, double pixel_size, double ini_high);

// RELION's first noise estimate: the particles' mean power spectrum minus that of their plain
// average (all particles, no alignment), into model->sigma2_noise.
void EstimateInitialNoise(const ParticleJob& job, const ClassificationOptions& opt, const PrepOptions& prep,
                          const std::string& program, Communicator& comm, Class2dModel* model);

// RELION's resolution after an M-step: the last shell before data_vs_prior drops below 1.
int ResolutionShell(const std::vector<double>& data_vs_prior, int box);

// Projections of every map along z, y and x (one row per map), for a glance at the maps.
void WriteMapProjections(const std::string& path, const std::vector<Volume>& maps);

// The sampling of a 3D job (run_itNNN_sampling.star, RELION's sampling_general block); offsets in Å.
struct SamplingInfo {
  int healpix_order = 2, healpix_order_original = 2;
  std::string symmetry = "C1";
  double offset_range = 0, offset_step = 0;  // Å
  double offset_range_original = 0, offset_step_original = 0;
  bool local = false;           // local searches around each particle's previous orientation
  double sigma_angles_deg = 0;  // their prior's sigma
  double perturb_instance = 0;  // this iteration's random perturbation (a fraction of the steps)
  double perturb_factor = 0;    // --perturb
};
void WriteSamplingStar(const std::string& path, const SamplingInfo& s);

// The angular step (degrees) of a HEALPix order (60 / 2^order).
inline double HealpixStep(int order) { return 60.0 / static_cast<double>(1 << order); }

}  // namespace emkit
