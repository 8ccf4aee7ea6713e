// M-step of 2D classification: exact (fixed-point) accumulation of the E-step sums, rotation
// back into each class's frame, and the regularised update of references, noise, priors.
#pragma once

#include <vector>

#include "refine/class2d_model.h"
#include "refine/estep2d.h"

namespace emkit {

// Sums over all particles of an iteration, as 128-bit fixed point: integer addition is
// associative, so the totals are bit-identical for any thread count, rank count or order.
class Class2dSums {
 public:
  // pad: the class grid is pad x oversampled (RELION's padding factor), for accurate rotations.
  Class2dSums(int classes, int box, int pad = 1);
  // Rotates a chunk's particle-frame sums back into the class frames and adds them.
  void AddChunk(const EStepSetup& s, const ChunkSums& c, std::vector<double>* scratch);
  void Add(const Class2dSums& o);
  std::vector<__int128>& raw() { return v_; }

  double D_re(int k, int i) const { return Get(k * stride_ + i); }
  double D_im(int k, int i) const { return Get(k * stride_ + grid_ + i); }
  double W(int k, int i) const { return Get(k * stride_ + 2 * grid_ + i); }
  double sigma2_num(int shell) const { return Get(base_ + shell); }
  double class_weight(int k) const { return Get(base_ + shells_ + k); }
  double psi_var(int k) const { return Get(base_ + shells_ + classes_ + k); }
  double offset_var(int k) const { return Get(base_ + shells_ + 2 * classes_ + k); }
  double count(int k) const { return Get(base_ + shells_ + 3 * classes_ + k); }
  double offset2() const { return Get(base_ + shells_ + 4 * classes_); }
  double loglik() const { return Get(base_ + shells_ + 4 * classes_ + 1); }
  double pmax() const { return Get(base_ + shells_ + 4 * classes_ + 2); }
  double weight_total() const { return Get(base_ + shells_ + 4 * classes_ + 3); }

 private:
  double Get(std::size_t i) const;
  void Put(std::size_t i, double value);
  int classes_, box_, hx_, shells_, pad_;
  std::size_t grid_, stride_, base_;
  std::vector<__int128> v_;
};

struct MStepOptions {
  double tau2_fudge = 2;
  double mask_radius_px = 0, mask_edge_px = 5;
  bool center_classes = true;
  int incr_size = 10;
  bool initial = false;                 // first model from random assignments (signal power from D/W)
  int initial_lowpass_shell = 1 << 30;  // initial model: no signal assumed beyond this shell
  int current_size = 0;                 // the size the E-step used
  int pad = 2;                          // padding of the class grid of the sums (1 for the initial pass)
  double num_particles = 0;
};

// Updates refs, tau2, sigma2, pk, sigma_offset, resolution and the next current size.
void MStep(const Class2dSums& sums, const MStepOptions& opt, Class2dModel* model);

}  // namespace emkit
