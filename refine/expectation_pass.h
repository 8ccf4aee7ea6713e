// One expectation pass over a job's particles, shared by 2D and 3D classification: this rank's
// fixed blocks ("chunks") of particles are prepared (re-centred, masked, CTF), scored by the
// E-step kernel (EStepChunk) against every reference and translation, and their weighted sums
// handed to a PassSums (class images in 2D, back-projected Fourier volumes in 3D), which adds
// them exactly (fixed point) so that totals do not depend on threads or ranks.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "refine/class2d_model.h"
#include "refine/communicator.h"
#include "refine/estep2d.h"
#include "refine/mstep2d.h"
#include "refine/particle_prep.h"

namespace emkit {

// The particles of a pass and the model values their preparation uses.
struct PassContext {
  const ParticleReader* reader = nullptr;
  const std::vector<ParticleState>* state = nullptr;
  const Class2dModel* model = nullptr;  // avg_norm, sigma2_noise (noise fill), group scales
  bool norm_correction = false, scale_correction = false;
  uint64_t seed = 0;
  int iteration = 0;              // the noise fill outside the mask: stream (noise_stream, iteration + 1, particle)
  std::string noise_stream;       // e.g. "class2d-mask-noise"
  std::string program = "emkit";  // names the job in errors
  int threads = 1, chunk = 1, first_chunk = 0, last_chunk = 0;
  const std::vector<int>* only_class = nullptr;  // per particle: its weights restricted to this class (-1: any)
  // The pass's particles (indices into the reader, in order; null: all of them). The chunks
  // first_chunk..last_chunk are blocks of `chunk` positions in this list.
  const std::vector<int>* particles = nullptr;
  // Local searches: each particle is scored alone against its own orientations and references,
  // which this sets on a thread's copy of the pass's setup (orient and ref_ri) before scoring it.
  std::function<void(int particle, EStepSetup* local)> local_setup;
  // Called for each particle after its scoring: `row` is its row in the chunk's workspace
  // (ws.wsum[row * M + m] > 0 for its significant references m; row 0 with local_setup).
  std::function<void(int particle, const EStepSetup& s, const EStepWorkspace& ws, int row)> on_weights;
};

// Receives the sums of each chunk; called from several threads (implementations serialise).
class PassSums {
 public:
  virtual ~PassSums() = default;
  // Class k's weighted sums of one chunk (ClassChunkSums): d (rows x 2P), w (rows x P) for the
  // orientations `rows`.
  virtual void AddClass(const EStepSetup& s, int k, const std::vector<float>& d, const std::vector<float>& w,
                        const std::vector<int>& rows, int thread) = 0;
  virtual void AddScalars(const ChunkSums& c) = 0;
  // After the last AddClass of a chunk by `thread` (sums kept per thread may be added to the total).
  virtual void EndChunk(int thread) { (void)thread; }
  // After every chunk of every rank: the totals over ranks (every rank gets them).
  virtual void Reduce(Communicator& comm) = 0;
  // False: the pass makes no class sums (no AddClass) and leaves the results' norm and scale sums
  // at 0; the scalars (AddScalars) still come.
  virtual bool wants_class_sums() const { return true; }
};

// A pass whose sums are not needed (e.g. a coarse pass that only selects orientations).
class DiscardSums : public PassSums {
 public:
  void AddClass(const EStepSetup&, int, const std::vector<float>&, const std::vector<float>&, const std::vector<int>&,
                int) override {}
  void AddScalars(const ChunkSums&) override {}
  void Reduce(Communicator&) override {}
  bool wants_class_sums() const override { return false; }
};

// Class2dSums as a pass's receiver: one total per process, shared by its threads (2D class
// grids, or only the scalars for Class2dSums::ScalarsOnly).
class Class2dPassSums : public PassSums {
 public:
  Class2dPassSums(Class2dSums* total, int threads) : total_(total), scratch_(threads) {}
  void AddClass(const EStepSetup& s, int k, const std::vector<float>& d, const std::vector<float>& w,
                const std::vector<int>& rows, int thread) override;  // all orientations (no compact sums)
  void AddScalars(const ChunkSums& c) override;
  void Reduce(Communicator& comm) override;

 private:
  Class2dSums* total_;
  std::mutex lock_;
  std::vector<std::vector<double>> scratch_;
};

// E-step over this rank's chunks (or the forced assignment forced_all[i] = reference index with
// all weight, for initial models); fills results_all for every particle of the pass (gathered
// over ranks; with ctx.particles, the other entries are left as they were).
// An error on any rank ends the pass on every rank (the failing rank rethrows its own).
void ExpectationPass(const PassContext& ctx, const EStepSetup& setup, const std::vector<int>* forced_all,
                     const PrepOptions& prep, Communicator& comm, PassSums* total,
                     std::vector<ParticleResult>* results_all);

}  // namespace emkit
