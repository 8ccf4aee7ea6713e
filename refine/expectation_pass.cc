#include "refine/expectation_pass.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <memory>

#include "core/error.h"
#include "core/parallel.h"
#include "core/random.h"

namespace emkit {

void Class2dPassSums::AddClass(const EStepSetup& s, int k, const std::vector<float>& d, const std::vector<float>& w,
                               const std::vector<int>& rows, int thread) {
  EMKIT_CHECK(static_cast<int>(rows.size()) == s.num_orient(), "2D sums take every orientation");
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
  const int n_all = ctx.reader->count();
  const int n_pass = ctx.particles ? static_cast<int>(ctx.particles->size()) : n_all;
  auto index_of = [&](int pos) { return ctx.particles ? (*ctx.particles)[pos] : pos; };
  const std::vector<ParticleState>& state = *ctx.state;
  const Class2dModel& model = *ctx.model;
  const bool class_sums = total->wants_class_sums();
  std::vector<EStepWorkspace> workspaces(threads);
  std::vector<std::unique_ptr<EStepSetup>> locals(threads);
  std::vector<std::vector<float>> sums_d(threads), sums_w(threads);  // a thread's class sums, reused
  std::vector<std::vector<int>> sums_rows(threads);
  // Results of this rank's positions, copied to their particles (gathered over ranks) afterwards.
  const int my_first = std::min(n_pass, ctx.first_chunk * ctx.chunk);
  std::vector<ParticleResult> mine(static_cast<std::size_t>(std::min(n_pass, ctx.last_chunk * ctx.chunk) - my_first));
  bool failed = false;
  std::exception_ptr error;
  try {
    ParallelFor(threads, static_cast<std::size_t>(ctx.last_chunk - ctx.first_chunk), [&](std::size_t ci, int thread) {
      omp_set_num_threads(1);  // OpenBLAS (OpenMP build) stays single-threaded inside our threads
      const int c = ctx.first_chunk + static_cast<int>(ci);
      const int begin = c * ctx.chunk, end = std::min(n_pass, begin + ctx.chunk);
      std::vector<PreparedParticle> parts(end - begin);
      std::vector<Translation> offsets(end - begin);
      std::vector<int> forced;
      for (int pos = begin; pos < end; ++pos) {
        const int i = index_of(pos);
        const ParticleState& st = state[i];
        offsets[pos - begin] = {st.offset_x, st.offset_y};
        Rng rng(ctx.seed, StreamId(ctx.noise_stream.c_str(), (uint64_t(ctx.iteration + 1) << 32) | uint64_t(i)));
        // RELION: the image times avg_norm / norm, the reference times the group's scale (as its CTF).
        const double intensity = ctx.norm_correction ? model.avg_norm / st.norm : 1.0;
        PreparedParticle& pp = parts[pos - begin];
        PrepareParticle(ctx.reader->Read(i), st.offset_x, st.offset_y, ctx.reader->CtfOf(i), ctx.reader->pixel_size(),
                        prep, setup.px, model.sigma2_noise, &rng, &pp, intensity);
        if (ctx.scale_correction && model.groups[st.group].scale != 1) {
          const float scale = static_cast<float>(model.groups[st.group].scale);
          for (float& v : pp.ctf) v *= scale;
        }
        if (ctx.only_class) pp.only_class = (*ctx.only_class)[i];
        if (forced_all) forced.push_back((*forced_all)[i]);
      }
      EStepWorkspace& ws = workspaces[thread];
      std::vector<float>& d = sums_d[thread];
      std::vector<float>& w = sums_w[thread];
      std::vector<int>& rows = sums_rows[thread];
      if (ctx.local_setup) {
        // One particle at a time, each against its own orientations.
        if (!locals[thread]) locals[thread] = std::make_unique<EStepSetup>(setup);
        EStepSetup& local = *locals[thread];
        for (int pos = begin; pos < end; ++pos) {
          ctx.local_setup(index_of(pos), &local);
          std::vector<PreparedParticle> one(1);
          one[0] = std::move(parts[pos - begin]);
          std::vector<ParticleResult> res;
          ChunkSums cs;
          EStepChunk(local, one, {offsets[pos - begin]}, nullptr, &res, &cs, &ws);
          if (ctx.on_weights) ctx.on_weights(index_of(pos), local, ws, 0);
          if (class_sums) {
            for (int k = 0; k < local.classes; ++k)
              ClassChunkSums(local, k, ws, &cs, &d, &w, &rows,
                             [&](const std::vector<float>& bd, const std::vector<float>& bw,
                                 const std::vector<int>& br) { total->AddClass(local, k, bd, bw, br, thread); });
            FinishResidualSums(local, one, ws, &res);
          }
          total->AddScalars(cs);
          mine[pos - my_first] = res[0];
        }
        total->EndChunk(thread);
        return;
      }
      std::vector<ParticleResult> res;
      ChunkSums cs;
      EStepChunk(setup, parts, offsets, forced_all ? &forced : nullptr, &res, &cs, &ws);
      if (ctx.on_weights)
        for (int pos = begin; pos < end; ++pos) ctx.on_weights(index_of(pos), setup, ws, pos - begin);
      if (class_sums) {
        for (int k = 0; k < setup.classes; ++k)
          ClassChunkSums(setup, k, ws, &cs, &d, &w, &rows,
                         [&](const std::vector<float>& bd, const std::vector<float>& bw, const std::vector<int>& br) {
                           total->AddClass(setup, k, bd, bw, br, thread);
                         });
        FinishResidualSums(setup, parts, ws, &res);
      }
      total->AddScalars(cs);
      total->EndChunk(thread);
      for (int pos = begin; pos < end; ++pos) mine[pos - my_first] = res[pos - begin];
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
  if (results_all->size() < static_cast<std::size_t>(n_all)) results_all->resize(n_all);
  std::vector<ParticleResult> gathered;
  if (comm.size() == 1) {
    EMKIT_CHECK(mine.size() == static_cast<std::size_t>(n_pass), "the pass's chunks cover its particles");
    gathered = std::move(mine);
  } else {
    std::vector<char> bytes(mine.size() * sizeof(ParticleResult));
    if (!bytes.empty()) std::memcpy(bytes.data(), mine.data(), bytes.size());
    const std::vector<char> all = comm.AllGatherBytes(bytes);
    EMKIT_CHECK(all.size() == static_cast<std::size_t>(n_pass) * sizeof(ParticleResult), "gathered results size");
    gathered.resize(n_pass);
    if (!all.empty()) std::memcpy(gathered.data(), all.data(), all.size());
  }
  for (int pos = 0; pos < n_pass; ++pos) (*results_all)[index_of(pos)] = gathered[pos];
}

}  // namespace emkit
