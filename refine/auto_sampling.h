// RELION 3.1's auto-refine sampling schedule (ml_optimiser.cpp: calculateExpectedAngularErrors,
// updateOverallChangesInHiddenVariables, updateAngularSampling, checkConvergence), as a small
// state machine the refine3d driver steps once per iteration. As in RELION, `healpix_order` is the
// coarse grid and the angular step is that of its oversampled children (order + 1).
#pragma once

#include <cstdint>
#include <vector>

#include "core/geometry.h"
#include "core/projector.h"
#include "refine/particle_prep.h"

namespace emkit {

struct AutoSampling {
  int healpix_order = 2;
  // The coarse translation step (RELION's offset_step, rlnOffsetStep); the fine pass splits it in
  // two (RELION's getTranslationalSampling(1)).
  double offset_range_px = 5, offset_step_px = 1;
  double fine_offset_step_px() const { return offset_step_px / 2; }
  bool local = false;           // local searches around each particle's previous orientation
  double sigma_angles_deg = 0;  // their Gaussian prior's sigma (2 steps)
  // Estimated accuracies (calculateExpectedAngularErrors): degrees and Å.
  double acc_rot = 999, acc_trans = 999;
  // Changes of the best orientations and offsets in the last E-step: degrees and Å (RMS per axis).
  double changes_orientations = 999, changes_offsets = 999;
  double smallest_changes_orientations = 999, smallest_changes_offsets = 999;
  int iter_wo_resolution_gain = 0, iter_wo_large_changes = 0;
  bool fine_enough = false, converged = false;
  double angular_step() const;  // degrees: 60 / 2^(order + 1), RELION's getAngularSampling(1)
};

struct AutoSamplingOptions {
  int auto_local_healpix_order = 4;  // local searches from this order on
  double pixel_size = 1;             // Å
};

// After an E-step: the mean change of the particles' best orientations (degrees) and the RMS
// change of their offsets per axis (Å); counts an iteration without large changes when both are
// within 3% of the smallest seen so far or below 40% of the current steps.
void UpdateHiddenVariableChanges(double mean_orientation_change, double rms_offset_change_A,
                                 const AutoSamplingOptions& opt, AutoSampling* s);

// Before an E-step (from the second iteration): when the resolution stopped improving and the
// hidden variables stopped changing, either the step is already finer than 75% of acc_rot
// (fine_enough) or the HEALPix order goes up by one, with translations from acc_trans and the
// offset changes, and from auto_local_healpix_order on local searches with sigma = 2 steps.
// Returns true when the sampling changed.
bool UpdateAngularSampling(const AutoSamplingOptions& opt, AutoSampling* s);

// Converged: fine enough, no resolution gain and no large changes for an iteration.
bool CheckConvergence(AutoSampling* s);

// One particle for the accuracy estimate: its reference, best angles, CTF at the selected
// pixels and its identity (seeds the random choice of the angle to perturb).
struct AccuracyParticle {
  const Projector* map = nullptr;
  Euler angles;
  std::vector<float> ctf;  // at px (empty: 1)
  uint64_t id = 0;
};
struct Accuracy {
  double rot_deg = 999, trans_px = 999;
};
// RELION's calculateExpectedAngularErrors: for each particle the smallest rotation (of rot, tilt
// or psi, chosen at random) and shift (of x or y) that changes its CTF-weighted projection by
// sum |F1 - F2|^2 / (2 sigma2) > 4.60517 (p = 0.01), in RELION's growing steps (at most 30
// degrees, 10 px); the means over the particles.
Accuracy ExpectedAccuracy(const std::vector<AccuracyParticle>& parts, const FourierPixels& px,
                          const std::vector<double>& sigma2_noise, uint64_t seed);

}  // namespace emkit
