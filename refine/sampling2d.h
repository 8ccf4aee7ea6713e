// The 2D search grid: in-plane rotations and translations (RELION: psi step, offset range/step).
#pragma once

#include <vector>

namespace emkit {

struct Translation {
  double x = 0, y = 0;  // pixels
};

// psi = 0, step, 2 step, ... < 360 (the step is adjusted so it divides 360 evenly).
std::vector<double> PsiGrid(double step_deg);
// All (i step, j step) with |t| <= range, sorted by (y, x); (0,0) always included.
std::vector<Translation> TranslationGrid(double range_px, double step_px);
// The same grid moved by `fraction` of the step in x and y alike: RELION's random perturbation of
// the sampling (3D), which moves the translations with the orientations every iteration.
std::vector<Translation> PerturbedTranslationGrid(double range_px, double step_px, double fraction);

}  // namespace emkit
