#include "refine/expectation_pass.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <exception>

#include "core/error.h"
#include "core/parallel.h"
#include "core/random.h"

namespace emkit {

void Class2dPassSums::AddClass(const EStepSetup& s, int k, const std::vector<float>& d, const std::vector<float>& w,
                               int thread) {
  total_->AddClass(s, k, d, w, &scratch_[thread], &lock_);
}

void Class2dPassSums::AddScalars(const ChunkSums& c) { total_->AddScalars(c, &lock_); }

void Class2dPassSums::Reduce(Communicator& comm) {
  comm.SumInt128(&total_->raw());
  if (!total_->grid64() || comm.size() == 1) return;
  // Wrapping 64-bit sums, reduced exactly in blocks (modulo 2^64), and the largest value added.
  std::vector<uint64_t>& g = total_->raw_grid64();
  std::vector<__int128> block;
  for (std::size_t b0 = 0; b0 < g.size(); b0 += 65536) {
    const std::size_t b1 = std::min(g.size(), b0 + 65536);
    block.assign(b1 - b0, 0);
    for (std::size_t i = b0; i < b1; ++i) block[i - b0] = static_cast<int64_t>(g[i]);
    comm.SumInt128(&block);
    for (std::size_t i = b0; i < b1; ++i) g[i] = static_cast<uint64_t>(block[i - b0]);
  }
  const double mine_max = total_->max_added();
  std::vector<char> mb(sizeof(double));
  std::memcpy(mb.data(), &mine_max, sizeof(double));
  const std::vector<char> all_max = comm.AllGatherBytes(mb);
  double most = 0;
  for (std::size_t r = 0; r + sizeof(double) <= all_max.size(); r += sizeof(double)) {
    double v;
    std::memcpy(&v, all_max.data() + r, sizeof(double));
    most = std::max(most, v);
  }
  total_->set_max_added(most);
}

void ExpectationPass(const PassContext& ctx, const EStepSetup& setup, const std::vector<int>* forced_all,
                     const PrepOptions& prep, Communicator& comm, PassSums* total,
                     std::vector<ParticleResult>* results_all) {
  const int threads = ctx.threads;
  const int n_particles = ctx.reader->count();
  const std::vector<ParticleState>& state = *ctx.state;
  const Class2dModel& model = *ctx.model;
  std::vector<EStepWorkspace> workspaces(threads);
  // One rank writes its results in place; several gather theirs (bytes) afterwards.
  const bool single = comm.size() == 1;
  std::vector<ParticleResult> mine;
  if (single)
    results_all->resize(n_particles);
  else
    mine.resize(static_cast<std::size_t>(std::min(n_particles, ctx.last_chunk * ctx.chunk) -
                                         std::min(n_particles, ctx.first_chunk * ctx.chunk)));
  ParticleResult* out = single ? results_all->data() : mine.data();
  const int my_first = single ? 0 : ctx.first_chunk * ctx.chunk;
  bool failed = false;
  std::exception_ptr error;
  try {
    ParallelFor(threads, static_cast<std::size_t>(ctx.last_chunk - ctx.first_chunk), [&](std::size_t ci, int thread) {
      omp_set_num_threads(1);  // OpenBLAS (OpenMP build) stays single-threaded inside our threads
      const int c = ctx.first_chunk + static_cast<int>(ci);
      const int begin = c * ctx.chunk, end = std::min(n_particles, begin + ctx.chunk);
      std::vector<PreparedParticle> parts(end - begin);
      std::vector<Translation> offsets(end - begin);
      std::vector<int> forced;
      for (int i = begin; i < end; ++i) {
        const ParticleState& st = state[i];
        offsets[i - begin] = {st.offset_x, st.offset_y};
        Rng rng(ctx.seed, StreamId(ctx.noise_stream.c_str(), (uint64_t(ctx.iteration + 1) << 32) | uint64_t(i)));
        // RELION: the image times avg_norm / norm, the reference times the group's scale (as its CTF).
        const double intensity = ctx.norm_correction ? model.avg_norm / st.norm : 1.0;
        PreparedParticle& pp = parts[i - begin];
        PrepareParticle(ctx.reader->Read(i), st.offset_x, st.offset_y, ctx.reader->CtfOf(i), ctx.reader->pixel_size(),
                        prep, setup.px, model.sigma2_noise, &rng, &pp, intensity);
        if (ctx.scale_correction && model.groups[st.group].scale != 1) {
          const float scale = static_cast<float>(model.groups[st.group].scale);
          for (float& v : pp.ctf) v *= scale;
        }
        if (ctx.only_class) pp.only_class = (*ctx.only_class)[i];
        if (forced_all) forced.push_back((*forced_all)[i]);
      }
      std::vector<ParticleResult> res;
      ChunkSums cs;
      EStepWorkspace& ws = workspaces[thread];
      EStepChunk(setup, parts, offsets, forced_all ? &forced : nullptr, &res, &cs, &ws);
      std::vector<float> d, w;
      for (int k = 0; k < setup.classes; ++k)
        if (ClassChunkSums(setup, k, ws, &cs, &d, &w)) total->AddClass(setup, k, d, w, thread);
      FinishResidualSums(setup, parts, ws, &res);
      total->AddScalars(cs);
      for (int i = begin; i < end; ++i) out[i - my_first] = res[i - begin];
    });
  } catch (...) {
    failed = true;
    error = std::current_exception();
  }
  if (comm.AnyTrue(failed)) {
    if (failed) std::rethrow_exception(error);
    throw OtherRankFailedError(ctx.program + ": another MPI rank failed (its message says why)");
  }
  total->Reduce(comm);
  if (single) return;
  std::vector<char> bytes(mine.size() * sizeof(ParticleResult));
  if (!bytes.empty()) std::memcpy(bytes.data(), mine.data(), bytes.size());
  const std::vector<char> all = comm.AllGatherBytes(bytes);
  EMKIT_CHECK(all.size() == static_cast<std::size_t>(n_particles) * sizeof(ParticleResult), "gathered results size");
  results_all->resize(n_particles);
  std::memcpy(results_all->data(), all.data(), all.size());
}

}  // namespace emkit
