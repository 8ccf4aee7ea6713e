// M-step of 2D classification: exact (fixed-point) accumulation of the E-step sums, rotation
// back into each class's frame, and the regularised update of references, noise, priors.
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

#include "refine/class2d_model.h"
#include "refine/estep2d.h"

namespace emkit {

// Sums over all particles of an iteration as fixed point: integer addition is associative, so the
// totals are bit-identical for any thread count, rank count or order. The scalars are 128-bit
// (resolution 2^-40). The class grids (D, W) are either 128-bit too or, with a grid scale S > 0,
// 64-bit two's-complement sums of round(S x value) (half the memory): wrapping additions are
// exact whenever the final total fits, which holds when chunks x max|added value| x S < 2^63;
// max_added() tells the caller, after the reduction, whether that bound held (else it must redo
// the pass with 128-bit grids).
class Class2dSums {
 public:
  // pad: the class grid is pad x oversampled (RELION's padding factor), for accurate rotations.
  // Only the window |ky|, kx <= pad * current_size / 2 + 2 of the padded grid is stored (the E-step
  // touches nothing beyond it); current_size 0 = the box.
  Class2dSums(int classes, int box, int pad = 1, int current_size = 0, double grid_scale = 0);
  // The scalar sums only (noise spectrum, class weights, priors, likelihood): no class grids (3D
  // jobs add their images to back-projectors instead).
  static Class2dSums ScalarsOnly(int classes, int box);
  // Rotates class k's particle-frame sums of a chunk (ClassChunkSums) back into the class frame
  // in `scratch`, then adds them holding `lock` (one total per process, shared by its threads).
  void AddClass(const EStepSetup& s, int k, const std::vector<float>& d, const std::vector<float>& w,
                std::vector<double>* scratch, std::mutex* lock);
  // Adds a chunk's scalar sums (noise spectrum, class weights, priors, likelihood), holding `lock`.
  void AddScalars(const ChunkSums& c, std::mutex* lock);
  void Add(const Class2dSums& o);
  std::vector<__int128>& raw() { return v_; }
  std::vector<uint64_t>& raw_grid64() { return g64_; }
  bool grid64() const { return grid_scale_ > 0; }
  double grid_scale() const { return grid_scale_; }
  double max_added() const { return max_added_; }  // largest |value| AddClass added to a grid cell
  void set_max_added(double v) { max_added_ = v; }
  std::size_t bytes() const { return v_.size() * sizeof(__int128) + g64_.size() * sizeof(uint64_t); }

  // i: index y * (n/2 + 1) + x of the full padded Hermitian-half grid (n = pad x box).
  double D_re(int k, int i) const { return At(k, 0, i); }
  double D_im(int k, int i) const { return At(k, 1, i); }
  double W(int k, int i) const { return At(k, 2, i); }
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
  double At(int k, int part, int i) const;
  long Slot(int ky, int kx) const;  // index in the window, -1 outside
  int classes_, box_, hx_, shells_, pad_, reach_;
  std::size_t grid_, stride_, base_;
  double grid_scale_ = 0, max_added_ = 0;
  std::vector<__int128> v_;    // 128-bit grids (unless grid64) and the scalars from base_
  std::vector<uint64_t> g64_;  // 64-bit grids
};

struct MStepOptions {
  double tau2_fudge = 2;
  double mask_radius_px = 0, mask_edge_px = 5;
  bool center_classes = true;
  int incr_size = 10;
  int initial_lowpass_shell = 1 << 30;  // initial model: the average is zeroed beyond this shell
  int current_size = 0;                 // the size the E-step used
  int pad = 2;                          // padding of the class grid of the sums
  double num_particles = 0;
};

// The M-step's updates that do not depend on the reference dimensionality: the noise spectrum
// (shells below current_size / 2), class priors, accuracies, offset prior, likelihood and <Pmax>.
void MStepOtherParameters(const Class2dSums& sums, const MStepOptions& opt, Class2dModel* model);

// MStepOtherParameters, then refs, tau2, sigma2_ref, ssnr, the resolution and the next current size.
void MStep(const Class2dSums& sums, const MStepOptions& opt, Class2dModel* model);

// The noise spectrum of RELION's start: `average` holds every particle in class 0 with CTF = 1 and
// 1/sigma2 = 1; sigma2 = the particles' mean power spectrum minus the average's (both / 2),
// non-positive values replaced by a neighbour's.
void InitialNoise(const Class2dSums& average, Class2dModel* model);

// RELION's start without references. `average` holds every particle in class 0 with CTF = 1 and
// 1/sigma2 = 1 (D/W = the plain average image); sigma2 = the particles' mean power spectrum minus
// the average's (both / 2). `random` holds each particle in a random class at a random rotation
// (1/sigma2 = 1): the classes start from its CTF-corrected averages D/W up to the shell
// opt.initial_lowpass_shell, tau2 = their power spectra, and the first image size follows from
// RELION's initial data-vs-prior (N / K) T tau2 / (2 sigma2).
void InitialModel(const Class2dSums& average, const Class2dSums& random, const MStepOptions& opt, Class2dModel* model);

}  // namespace emkit
