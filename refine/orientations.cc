#include "refine/orientations.h"

#include <healpix_base.h>

#include <cmath>

#include "core/error.h"
#include "core/random.h"
#include "refine/sampling2d.h"

namespace emkit {
namespace {

double Deg(double rad) { return rad * 180.0 / M_PI; }

std::array<double, 3> Direction(double rot, double tilt) {
  const double r = rot * M_PI / 180, t = tilt * M_PI / 180;
  return {std::cos(r) * std::sin(t), std::sin(r) * std::sin(t), std::cos(t)};
}

double Dot(const std::array<double, 3>& a, const std::array<double, 3>& b) {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

// Wraps an angle difference to [-180, 180).
double WrapDeg(double d) {
  d = std::fmod(d + 180.0, 360.0);
  if (d < 0) d += 360.0;
  return d - 180.0;
}

}  // namespace

void OrientationSet::Add(const Euler& e, double lp) {
  angles.push_back(e);
  matrices.push_back(EulerToMatrix(e));
  log_prior.push_back(lp);
}

OrientationSet InPlaneOrientations(double psi_step_deg) {
  OrientationSet s;
  s.in_plane = true;
  for (double psi : PsiGrid(psi_step_deg)) s.Add({0, 0, psi});
  return s;
}

double HealpixGrid::angular_step() const { return 60.0 / std::pow(2.0, order); }

HealpixGrid MakeHealpixGrid(int order, const SymmetryGroup& sym) {
  if (order < 0 || order > 8) throw InvalidInputError("HEALPix order must be 0..8, got " + std::to_string(order));
  HealpixGrid g;
  g.order = order;
  T_Healpix_Base<long> base;
  base.Set(order, NEST);
  // A generic reference direction (on no symmetry axis or mirror plane of any group).
  const std::array<double, 3> p0 = Direction(17.3, 31.7);
  std::vector<std::array<double, 3>> images;
  for (const Mat3& m : sym.matrices()) {
    // The symmetry mates of a direction d are R^T d for RELION's matrices (rows: A R).
    const Mat3 t = m.Transposed();
    const std::array<double, 3> q = t * p0;
    if (Dot(q, p0) < 1 - 1e-9) images.push_back(q);
  }
  for (long ipix = 0; ipix < base.Npix(); ++ipix) {
    double z = 0, phi = 0;
    base.pix2zphi(ipix, z, phi);
    double rot = Deg(phi), tilt = Deg(std::acos(z));
    if (rot > 180) rot -= 360;  // RELION's checkDirection: rot in [-180, 180]
    const std::array<double, 3> d = Direction(rot, tilt);
    const double own = Dot(d, p0);
    bool inside = true;
    for (const auto& q : images)
      if (Dot(d, q) > own) {
        inside = false;
        break;
      }
    if (!inside) continue;
    g.rot.push_back(rot);
    g.tilt.push_back(tilt);
    g.pixel.push_back(ipix);
  }
  const double step = 360.0 / (6 * std::pow(2.0, order));
  const int npsi = static_cast<int>(std::ceil(360.0 / step - 1e-9));
  for (int i = 0; i < npsi; ++i) g.psi.push_back(i * 360.0 / npsi);
  return g;
}

void HealpixGrid::SetPerturbation(double fraction) {
  perturbed = fraction != 0;
  const double a = fraction * angular_step();
  perturbation = perturbed ? EulerToMatrix({a, a, a}) : Mat3();
}

double SamplingPerturbation(double f, uint64_t seed, const char* stream, int iteration) {
  if (!(f > 0)) return 0;
  double p = 0;
  for (int j = 1; j <= iteration; ++j) {
    p += Rng(seed, StreamId(stream, j)).Uniform(0.5 * f, f);
    p -= 2 * f * std::floor((p + f) / (2 * f));  // RELION's realWRAP into [-f, f)
  }
  return p;
}

namespace {

// Adds grid orientation e to s, perturbed as the grid says.
void AddFromGrid(const HealpixGrid& grid, const Euler& e, double log_prior, OrientationSet* s) {
  if (!grid.perturbed) {
    s->Add(e, log_prior);
    return;
  }
  const Mat3 a = EulerToMatrix(e) * grid.perturbation;
  s->angles.push_back(MatrixToEuler(a));
  s->matrices.push_back(a);
  s->log_prior.push_back(log_prior);
}

}  // namespace

OrientationSet ChildOrientations(const HealpixGrid& grid, const std::vector<int>& indices) {
  T_Healpix_Base<long> fine;
  fine.Set(grid.order + 1, NEST);
  const int npsi = static_cast<int>(grid.psi.size());
  const double quarter = 90.0 / npsi;  // a quarter of the psi step (360 / npsi)
  OrientationSet s;
  for (int index : indices) {
    const int d = index / npsi, ip = index % npsi;
    for (int k = 0; k < 4; ++k) {
      double z = 0, phi = 0;
      fine.pix2zphi(4 * grid.pixel[d] + k, z, phi);
      double rot = Deg(phi);
      if (rot > 180) rot -= 360;
      const double tilt = Deg(std::acos(z));
      for (int q = 0; q < 2; ++q) AddFromGrid(grid, {rot, tilt, grid.psi[ip] + (q == 0 ? -quarter : quarter)}, 0, &s);
    }
  }
  return s;
}

OrientationSet GlobalOrientations(const HealpixGrid& grid) {
  OrientationSet s;
  for (int d = 0; d < grid.directions(); ++d)
    for (double psi : grid.psi) AddFromGrid(grid, {grid.rot[d], grid.tilt[d], psi}, 0, &s);
  return s;
}

OrientationSet LocalOrientations(const HealpixGrid& grid, const SymmetryGroup& sym, const Euler& prior,
                                 double sigma_dir_deg, double sigma_psi_deg, std::vector<int>* indices) {
  if (indices) indices->clear();
  const int npsi = static_cast<int>(grid.psi.size());
  if (!(sigma_dir_deg > 0) || !(sigma_psi_deg > 0)) throw InvalidInputError("local search sigmas must be > 0");
  // The prior's direction and its symmetry mates (a grid direction near any of them is near).
  const Mat3 a = EulerToMatrix(prior);
  std::vector<std::array<double, 3>> mates;
  std::vector<double> mate_psi;
  for (const Mat3& m : sym.matrices()) {
    const Euler e = MatrixToEuler(a * m);
    mates.push_back(Direction(e.rot, e.tilt));
    mate_psi.push_back(e.psi);
  }
  OrientationSet s;
  const double cut_dir = 3 * sigma_dir_deg, cut_psi = 3 * sigma_psi_deg;
  int nearest_dir = 0, nearest_mate = 0;
  double nearest = 1e9;
  for (int d = 0; d < grid.directions(); ++d) {
    const std::array<double, 3> v = Direction(grid.rot[d], grid.tilt[d]);
    double best = 1e9;
    int best_mate = 0;
    for (std::size_t j = 0; j < mates.size(); ++j) {
      const double ang = Deg(std::acos(std::max(-1.0, std::min(1.0, Dot(v, mates[j])))));
      if (ang < best) best = ang, best_mate = static_cast<int>(j);
    }
    if (best < nearest) nearest = best, nearest_dir = d, nearest_mate = best_mate;
    if (best > cut_dir) continue;
    const double lp_dir = -best * best / (2 * sigma_dir_deg * sigma_dir_deg);
    for (int ip = 0; ip < npsi; ++ip) {
      const double psi = grid.psi[ip];
      const double dpsi = WrapDeg(psi - mate_psi[best_mate]);
      if (std::fabs(dpsi) > cut_psi) continue;
      AddFromGrid(grid, {grid.rot[d], grid.tilt[d], psi}, lp_dir - dpsi * dpsi / (2 * sigma_psi_deg * sigma_psi_deg),
                  &s);
      if (indices) indices->push_back(d * npsi + ip);
    }
  }
  if (s.size() == 0 && grid.directions() > 0 && !grid.psi.empty()) {
    // Sigmas below the grid step: the nearest grid orientation alone (as RELION falls back to).
    double best_d = 1e9;
    int best_ip = 0;
    for (int ip = 0; ip < npsi; ++ip) {
      const double dpsi = std::fabs(WrapDeg(grid.psi[ip] - mate_psi[nearest_mate]));
      if (dpsi < best_d) best_d = dpsi, best_ip = ip;
    }
    AddFromGrid(grid, {grid.rot[nearest_dir], grid.tilt[nearest_dir], grid.psi[best_ip]}, 0, &s);
    if (indices) indices->push_back(nearest_dir * npsi + best_ip);
  }
  return s;
}

double OrientationDistance(const Mat3& a, const Mat3& b, const SymmetryGroup& sym) {
  double best = 360;
  for (const Mat3& m : sym.matrices()) {
    const Mat3 r = a * (b * m).Transposed();
    const double tr = r(0, 0) + r(1, 1) + r(2, 2);
    best = std::min(best, Deg(std::acos(std::max(-1.0, std::min(1.0, (tr - 1) / 2)))));
  }
  return best;
}

}  // namespace emkit
