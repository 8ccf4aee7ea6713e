// Progress of a classification iteration's expectation pass, over this rank's particles, with
// the job's time estimate. ExpectationPass itself is not involved: ProgressPassSums forwards each
// chunk's sums to the pass's real receiver and counts the chunk's particles, so it changes no
// number (the receiver sees the same calls in the same order).
//
//   std::unique_ptr<Progress> progress = IterationProgress("class3d", it, iterations, job, seconds, root);
//   ProgressPassSums counted(&sums, progress.get());
//   ExpectationPass(ctx, setup, nullptr, prep, comm, &counted, &results);
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "core/log.h"
#include "refine/estep2d.h"
#include "refine/expectation_pass.h"
#include "refine/particle_job.h"

namespace emkit {

// Particles whose sums a chunk holds (EStepChunk counts each once, in its best class).
std::size_t ParticlesIn(const ChunkSums& c);

// The particles of `job` this rank's chunks hold.
std::size_t RankParticles(const ParticleJob& job);

class ProgressPassSums : public PassSums {
 public:
  // progress may be null (then it only forwards).
  ProgressPassSums(PassSums* inner, Progress* progress) : inner_(inner), progress_(progress) {}
  void AddClass(const EStepSetup& s, int k, const std::vector<float>& d, const std::vector<float>& w,
                const std::vector<int>& rows, int thread) override {
    inner_->AddClass(s, k, d, w, rows, thread);
  }
  void EndChunk(int thread) override { inner_->EndChunk(thread); }
  void AddScalars(const ChunkSums& c) override;
  void Reduce(Communicator& comm) override { inner_->Reduce(comm); }
  bool wants_class_sums() const override { return inner_->wants_class_sums(); }

 private:
  PassSums* inner_;
  Progress* progress_;
};

// "<program> iteration <it>/<iterations>" over this rank's particles, reported by the root rank
// only; the ETA of the job counts the later iterations at the time of the last of `seconds_so_far`
// (this run's iterations; they grow with the image size), or at this one's projected time.
// `passes`: how many times each particle is scored (counted) in the iteration; `iterations` < 0:
// the last iteration is not known (refine3d stops when it converges), no ETA for the job.
std::unique_ptr<Progress> IterationProgress(const std::string& program, int iteration, int iterations,
                                            const ParticleJob& job, const std::vector<double>& seconds_so_far,
                                            bool root, int passes = 1);

}  // namespace emkit
