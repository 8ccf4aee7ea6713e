#include "refine/volume_sums.h"

#include <algorithm>

namespace emkit {

VolumeSums::VolumeSums(int volumes, int classes, int box, int pad, int r_max, int threads)
    : scalars_(Class2dSums::ScalarsOnly(classes, box)),
      box_(box),
      pad_(pad),
      r_max_(r_max),
      target_(threads, -1),
      locks_(volumes) {
  for (int t = 0; t < threads; ++t) scratch_.push_back(std::make_unique<BackProjector>(box, pad, r_max));
  fixed_.assign(volumes, std::vector<__int128>(scratch_.front()->fixed_size(), 0));
}

void VolumeSums::StartPass(int first, bool reduce) {
  first_ = first;
  reduce_ = reduce;
}

void VolumeSums::AddClass(const EStepSetup& s, int k, const std::vector<float>& d, const std::vector<float>& w,
                          const std::vector<int>& rows, int thread) {
  const int P = s.px.size(), volume = first_ + k;
  if (target_[thread] != volume) Flush(thread);
  BackProjector& bp = *scratch_[thread];
  for (std::size_t j = 0; j < rows.size(); ++j) {
    const float* wm = &w[j * P];
    if (std::all_of(wm, wm + P, [](float v) { return v == 0; })) continue;
    const float* dm = &d[j * 2 * P];
    bp.InsertPixels(s.px.kx.data(), s.px.ky.data(), P, dm, dm + P, wm, s.orient.matrices[rows[j]]);
    target_[thread] = volume;
  }
}

void VolumeSums::EndChunk(int thread) { Flush(thread); }

void VolumeSums::Flush(int thread) {
  const int v = target_[thread];
  if (v < 0) return;
  {
    const std::lock_guard<std::mutex> guard(locks_[v]);
    scratch_[thread]->AddToFixed(&fixed_[v]);
  }
  scratch_[thread]->Clear();
  target_[thread] = -1;
}

void VolumeSums::Reduce(Communicator& comm) {
  if (!reduce_) return;
  comm.SumInt128(&scalars_.raw());
  for (auto& f : fixed_) comm.SumInt128(&f);
}

BackProjector VolumeSums::Volume(int v) const {
  BackProjector bp(box_, pad_, r_max_);
  bp.SetFromFixed(fixed_[v]);
  return bp;
}

}  // namespace emkit
