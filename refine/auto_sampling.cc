#include "refine/auto_sampling.h"

#include <algorithm>
#include <cmath>

#include "core/random.h"

namespace emkit {

double AutoSampling::angular_step() const { return 60.0 / static_cast<double>(1 << (healpix_order + 1)); }

void UpdateHiddenVariableChanges(double mean_orientation_change, double rms_offset_change_A,
                                 const AutoSamplingOptions& opt, AutoSampling* s) {
  s->changes_orientations = mean_orientation_change;
  s->changes_offsets = rms_offset_change_A;
  const double ratio_orient = mean_orientation_change / s->angular_step();
  const double ratio_trans = rms_offset_change_A / (s->fine_offset_step_px() * opt.pixel_size);
  if ((ratio_trans < 0.40 || 1.03 * rms_offset_change_A >= s->smallest_changes_offsets) &&
      (ratio_orient < 0.40 || 1.03 * mean_orientation_change >= s->smallest_changes_orientations))
    ++s->iter_wo_large_changes;
  else
    s->iter_wo_large_changes = 0;
  s->smallest_changes_offsets = std::min(s->smallest_changes_offsets, rms_offset_change_A);
  s->smallest_changes_orientations = std::min(s->smallest_changes_orientations, mean_orientation_change);
}

bool UpdateAngularSampling(const AutoSamplingOptions& opt, AutoSampling* s) {
  if (s->iter_wo_resolution_gain < 1 || s->iter_wo_large_changes < 1) return false;
  const double old_step = s->angular_step();
  if (old_step < 0.75 * s->acc_rot) {
    s->fine_enough = true;
    return false;
  }
  s->fine_enough = false;
  // Translations (RELION, in Å): the coarse step twice the fine one from the accuracy (at most
  // 1.5 Å); the range five times the last offset changes, at most 1.3x the old range, at least 1.5
  // coarse steps, halved (and the step coarsened) when over 4 coarse steps; never coarser than
  // before.
  const double apix = opt.pixel_size;
  double step = 2 * std::min(1.5, 0.75 * s->acc_trans);
  double range = std::min(1.3 * s->offset_range_px * apix, 5 * s->changes_offsets);
  range = std::max(range, 1.5 * step);
  if (range > 4 * step) range /= 2;
  if (range > 4 * step) step = range / 4;
  if (step / apix > s->offset_step_px) {
    step = s->offset_step_px * apix;
    range = s->offset_range_px * apix;
  }
  s->offset_step_px = step / apix;
  s->offset_range_px = range / apix;
  ++s->healpix_order;
  s->iter_wo_resolution_gain = 0;
  s->iter_wo_large_changes = 0;
  s->smallest_changes_orientations = 999;
  s->smallest_changes_offsets = 999;
  if (s->healpix_order >= opt.auto_local_healpix_order) {
    s->local = true;
    s->sigma_angles_deg = 2 * s->angular_step();
  }
  return true;
}

bool CheckConvergence(AutoSampling* s) {
  if (s->fine_enough && s->iter_wo_resolution_gain >= 1 && s->iter_wo_large_changes >= 1) s->converged = true;
  return s->converged;
}

namespace {

// RELION's growing search steps.
double AngleStep(double e) {
  if (e < 0.2) return 0.05;
  if (e < 1) return 0.1;
  if (e < 2) return 0.2;
  if (e < 5) return 0.5;
  if (e < 10) return 1;
  if (e < 20) return 2;
  return 5;
}
double ShiftStep(double e) {
  if (e < 1) return 0.1;
  if (e < 2) return 0.2;
  if (e < 5) return 0.5;
  if (e < 10) return 1;
  return 2;
}

}  // namespace

Accuracy ExpectedAccuracy(const std::vector<AccuracyParticle>& parts, const FourierPixels& px,
                          const std::vector<double>& sigma2_noise, uint64_t seed) {
  Accuracy out;
  if (parts.empty()) return out;
  const int P = px.size();
  std::vector<double> inv2s(P, 0.0);
  for (int p = 0; p < P; ++p) {
    const int sh = px.shell[p];
    const double s2 = sh < static_cast<int>(sigma2_noise.size()) ? sigma2_noise[sh] : 0.0;
    inv2s[p] = sh > 0 && s2 > 0 ? 1.0 / (2 * s2) : 0.0;
  }
  constexpr double kPValue = 4.60517;  // -log(0.01)
  std::vector<Complex> f1(P), f2(P);
  double sum_rot = 0, sum_trans = 0;
  for (const AccuracyParticle& part : parts) {
    auto ctf = [&](int p) { return part.ctf.empty() ? 1.f : part.ctf[p]; };
    part.map->SliceAt(EulerToMatrix(part.angles), px.n, px.kx.data(), px.ky.data(), P, f1.data());
    for (int p = 0; p < P; ++p) f1[p] *= ctf(p);
    // RELION re-seeds before each trial with the particle's seed: one choice of axis per particle.
    const double ran = Rng(seed, StreamId("refine3d-accuracy", part.id)).Uniform();
    for (int mode = 0; mode < 2; ++mode) {
      double ang = 0, sh = 0, snr = 0;
      while (snr <= kPValue) {
        ang += AngleStep(ang);
        sh += ShiftStep(sh);
        if ((mode == 0 && ang > 30) || (mode == 1 && sh > 10)) break;
        if (mode == 0) {
          Euler e = part.angles;
          if (ran < 0.3333)
            e.rot += ang;
          else if (ran < 0.6667)
            e.tilt += ang;
          else
            e.psi += ang;
          part.map->SliceAt(EulerToMatrix(e), px.n, px.kx.data(), px.ky.data(), P, f2.data());
          for (int p = 0; p < P; ++p) f2[p] *= ctf(p);
        } else {
          const double dx = ran < 0.5 ? sh : 0, dy = ran < 0.5 ? 0 : sh;
          for (int p = 0; p < P; ++p) {
            const double ph = -2 * M_PI * (px.kx[p] * dx + px.ky[p] * dy) / px.n;
            f2[p] = f1[p] * Complex(static_cast<float>(std::cos(ph)), static_cast<float>(std::sin(ph)));
          }
        }
        snr = 0;
        for (int p = 0; p < P; ++p) snr += std::norm(f1[p] - f2[p]) * inv2s[p];
      }
      (mode == 0 ? sum_rot : sum_trans) += mode == 0 ? ang : sh;
    }
  }
  out.rot_deg = sum_rot / parts.size();
  out.trans_px = sum_trans / parts.size();
  return out;
}

}  // namespace emkit
