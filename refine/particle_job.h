// The particles of a classification job (2D or 3D) as the iterations use them: the STAR file,
// a reader of their images, their per-particle state, their intensity groups, and the fixed
// blocks ("chunks") of particles the E-step processes, split over MPI ranks.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "io/particles.h"
#include "refine/class2d_model.h"
#include "refine/classification_options.h"
#include "refine/estep2d.h"
#include "refine/expectation_pass.h"
#include "refine/particle_prep.h"

namespace emkit {

struct ParticleJob {
  ParticleSet set;
  std::string star_path;
  std::unique_ptr<ParticleReader> reader;
  std::vector<ParticleState> state;
  std::vector<Class2dGroup> groups;  // from the particles (state[i].group indexes it)
  int box = 0;
  double pixel_size = 1;
  bool has_angles = false;  // the STAR gave rlnAngleRot, rlnAngleTilt and rlnAnglePsi
  int chunk = 0, num_chunks = 0, first_chunk = 0, last_chunk = 0;
  // Blocks of `chunk` particles; rank r of `ranks` takes a contiguous run of them.
  void SplitChunks(int chunk_size, int rank, int ranks);
};

// Reads the particles STAR, opens the reader, the states (angles, offsets, class) and groups and
// norms; keeps in memory only the source columns the data.star copies through.
void LoadParticleJob(const std::string& star, ParticleJob& job);

// Each particle's group (RELION: rlnGroupName, else rlnGroupNumber, else the micrograph, else
// one group) and starting norm correction (rlnNormCorrection, else 1).
void ReadGroupsAndNorms(ParticleJob& job);

// The model's groups: the particles' groups, with the scale (and, for numbered groups, the name)
// of the same group in `previous` (a continued model), matched by number or name.
std::vector<Class2dGroup> MergeGroups(const std::vector<Class2dGroup>& mine, const std::vector<Class2dGroup>& previous,
                                      bool numbered);

// RELION's norm correction (per particle) and scale correction (per group) from an E-step's results.
void UpdateNorms(const std::vector<ParticleResult>& results, std::vector<ParticleState>* state, Class2dModel* model);
void UpdateScales(const std::vector<ParticleResult>& results, const std::vector<ParticleState>& state,
                  Class2dModel* model);

// How the particles are prepared for the E-step under a job's options (mask of radius
// mask_radius_px, CTF, norm-correction sums).
PrepOptions MakePrepOptions(const ClassificationOptions& o, double mask_radius_px);
// A pass over `job`'s chunks at `iteration` (the noise fill's stream is "<program>-mask-noise").
PassContext MakePassContext(const ParticleJob& job, const ClassificationOptions& o, const Class2dModel& model,
                            int iteration, const std::string& program);
// Each particle's new class, angles, offsets, Pmax, significant samples and log-likelihood.
void ApplyResults(const std::vector<ParticleResult>& results, std::vector<ParticleState>* state);

// Particles per E-step block: `chunk_option` when > 0, else from the image size and the numbers of
// translations and references (never from the thread or rank count, so results are the same for
// any), keeping one block's matrices (Y: T x 2P floats, cross terms and weights: T x M floats per
// particle, at the full image size) within ~2 MB; 4..64.
int ChunkSize(int chunk_option, int box, double translations, double references);

}  // namespace emkit
