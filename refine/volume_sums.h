// The exact sums of a 3D expectation pass (class3d, refine3d): one fixed-point back-projector per
// volume and the scalar sums. A thread inserts a chunk's orientations of one class into its own
// double back-projector (in a fixed order: the same values for any thread), which is added to its
// volume's total as fixed point (order-free) when the thread moves to another class or chunk.
#pragma once

#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "refine/backprojector.h"
#include "refine/expectation_pass.h"
#include "refine/mstep2d.h"

namespace emkit {

class VolumeSums : public PassSums {
 public:
  // `volumes` back-projectors of box x box x box (pad, r_max); scalar sums for `classes` classes.
  VolumeSums(int volumes, int classes, int box, int pad, int r_max, int threads);
  // The next pass adds class k to volume first + k; its Reduce sums over ranks only when `reduce`
  // (several passes into one total are reduced once, after the last).
  void StartPass(int first, bool reduce);

  void AddClass(const EStepSetup& s, int k, const std::vector<float>& d, const std::vector<float>& w,
                const std::vector<int>& rows, int thread) override;
  void EndChunk(int thread) override;
  void AddScalars(const ChunkSums& c) override { scalars_.AddScalars(c, &scalar_lock_); }
  void Reduce(Communicator& comm) override;

  const Class2dSums& scalars() const { return scalars_; }
  BackProjector Volume(int v) const;

 private:
  void Flush(int thread);  // adds the thread's scratch to its volume's total
  Class2dSums scalars_;
  int box_, pad_, r_max_;
  int first_ = 0;
  bool reduce_ = true;
  std::vector<std::unique_ptr<BackProjector>> scratch_;
  std::vector<int> target_;  // per thread: the volume its scratch holds (-1: none)
  std::vector<std::vector<__int128>> fixed_;
  std::deque<std::mutex> locks_;  // per volume
  std::mutex scalar_lock_;
};

}  // namespace emkit
