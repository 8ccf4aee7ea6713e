#include "refine/pass_progress.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace emkit {

std::size_t ParticlesIn(const ChunkSums& c) {
  const double n = std::accumulate(c.count.begin(), c.count.end(), 0.0);
  return n > 0 ? static_cast<std::size_t>(std::llround(n)) : 0;
}

std::size_t RankParticles(const ParticleJob& job) {
  const long n = job.reader ? job.reader->count() : 0;
  const long first = std::min<long>(n, static_cast<long>(job.first_chunk) * job.chunk);
  const long last = std::min<long>(n, static_cast<long>(job.last_chunk) * job.chunk);
  return static_cast<std::size_t>(std::max(0L, last - first));
}

void ProgressPassSums::AddScalars(const ChunkSums& c) {
  inner_->AddScalars(c);
  if (progress_) progress_->Advance(ParticlesIn(c));
}

std::unique_ptr<Progress> IterationProgress(const std::string& program, int iteration, int iterations,
                                            const ParticleJob& job, const std::vector<double>& seconds_so_far,
                                            bool root, int passes) {
  ProgressOptions o;
  if (!root) o.mode = ProgressMode::kOff;
  o.unit = passes > 1 ? "particle passes" : "particles";
  const std::string label =
      program + " iteration " + std::to_string(iteration) + (iterations > 0 ? "/" + std::to_string(iterations) : "");
  auto progress = std::make_unique<Progress>(label, RankParticles(job) * static_cast<std::size_t>(passes), o);
  if (iterations > 0) {
    ProgressAfter after;
    after.units = std::max(0, iterations - iteration);
    if (!seconds_so_far.empty()) after.seconds_each = seconds_so_far.back();
    progress->SetAfter(after);
  }
  return progress;
}

}  // namespace emkit
