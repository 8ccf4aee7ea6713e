// Orientation sets for the E-step: rotation matrices with a log-prior each. 2D classification uses
// in-plane angles; 3D uses HEALPix directions (RELION's NEST pixel centres, rot = phi,
// tilt = acos z) x psi, restricted to one asymmetric unit of the point group, or the orientations
// near a prior (local searches with Gaussian priors, cut at 3 sigma).
#pragma once

#include <cstdint>
#include <vector>

#include "core/geometry.h"

namespace emkit {

struct OrientationSet {
  std::vector<Euler> angles;      // degrees
  std::vector<Mat3> matrices;     // EulerToMatrix(angles[i])
  std::vector<double> log_prior;  // natural log, up to a constant
  bool in_plane = false;          // rot = tilt = 0 for all (2D): distances are psi differences
  int size() const { return static_cast<int>(angles.size()); }
  void Add(const Euler& e, double log_prior = 0);
};

// psi = 0, step, ... < 360 (the step adjusted to divide 360), as PsiGrid; rot = tilt = 0.
OrientationSet InPlaneOrientations(double psi_step_deg);

// The coarse 3D grid of RELION's HealpixSampling at `order` (Nside = 2^order): directions and
// psi angles (step 360 / (6 Nside), i.e. 15 degrees at order 2; 4608 orientations in C1).
struct HealpixGrid {
  int order = 2;
  std::vector<double> rot, tilt;  // directions in the asymmetric unit (degrees)
  std::vector<long> pixel;        // their HEALPix NEST index
  std::vector<double> psi;        // degrees
  // RELION's random perturbation of the sampling: every orientation made from the grid
  // (GlobalOrientations, ChildOrientations, LocalOrientations) is A * perturbation, A its
  // unperturbed matrix; off (the grid as it is) unless SetPerturbation turned it on.
  bool perturbed = false;
  Mat3 perturbation;
  double angular_step() const;  // 60 / 2^order degrees
  // perturbation = EulerToMatrix({a, a, a}) with a = fraction * angular_step() (RELION's
  // HealpixSampling: random_perturbation x the angular sampling); fraction 0 turns it off.
  void SetPerturbation(double fraction);
  int directions() const { return static_cast<int>(rot.size()); }
  long orientations() const { return static_cast<long>(rot.size()) * static_cast<long>(psi.size()); }
};

// The directions of one asymmetric unit of `sym`: those closer to a fixed generic direction p0
// than to any symmetry image of p0 (the Dirichlet cell of p0, a fundamental domain: every
// direction on the sphere has exactly one symmetry mate in it, up to ties on its border).
HealpixGrid MakeHealpixGrid(int order, const SymmetryGroup& sym);

// RELION's random_perturbation of iteration `iteration` (1, 2, ...) for perturbation factor f
// (--perturb, RELION: 0.5): starting at 0, each iteration adds a uniform draw from [f/2, f] and
// wraps into [-f, f), so the grid moves strongly every iteration. The draws come from (seed,
// stream name, iteration j) for j = 1..iteration: a --continue run gets the same values. Returns
// a fraction of the sampling step; 0 when f = 0.
double SamplingPerturbation(double f, uint64_t seed, const char* stream, int iteration);

// Every orientation of the grid (direction-major: index = idir * npsi + ipsi), flat prior.
OrientationSet GlobalOrientations(const HealpixGrid& grid);

// RELION's oversampling of significant coarse orientations (adaptive_oversampling 1): each of the
// grid orientations `indices` (GlobalOrientations order: idir * npsi + ipsi) gives its 4 HEALPix
// children (NEST pixels 4p..4p+3 at order + 1) x 2 psi (psi -+ step / 4), flat prior.
OrientationSet ChildOrientations(const HealpixGrid& grid, const std::vector<int>& indices);

// RELION's local search: grid orientations whose direction lies within 3 sigma_dir of the prior's
// direction (angular distance, the closest symmetry mate of the prior counting) and whose psi lies
// within 3 sigma_psi of the prior psi; log-prior -d^2 / (2 sigma^2) for both. sigma in degrees.
// `indices` (optional) gets their GlobalOrientations indices.
OrientationSet LocalOrientations(const HealpixGrid& grid, const SymmetryGroup& sym, const Euler& prior,
                                 double sigma_dir_deg, double sigma_psi_deg, std::vector<int>* indices = nullptr);

// Angle (degrees) of the rotation taking orientation a to b, the smallest over symmetry mates of b.
double OrientationDistance(const Mat3& a, const Mat3& b, const SymmetryGroup& sym);

}  // namespace emkit
