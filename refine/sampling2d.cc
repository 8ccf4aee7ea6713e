#include "refine/sampling2d.h"

#include <cmath>

#include "core/error.h"

namespace emkit {

std::vector<double> PsiGrid(double step_deg) {
  if (!(step_deg > 0) || step_deg > 360) throw InvalidInputError("psi step must be in (0, 360] degrees");
  const int n = std::max(1, static_cast<int>(std::lround(360.0 / step_deg)));
  std::vector<double> psi(n);
  for (int i = 0; i < n; ++i) psi[i] = 360.0 * i / n;
  return psi;
}

std::vector<Translation> TranslationGrid(double range_px, double step_px) {
  if (!(step_px > 0)) throw InvalidInputError("offset step must be positive");
  if (range_px < 0) throw InvalidInputError("offset range must not be negative");
  const int m = static_cast<int>(std::floor(range_px / step_px + 1e-9));
  std::vector<Translation> t;
  for (int j = -m; j <= m; ++j)
    for (int i = -m; i <= m; ++i) {
      const double x = i * step_px, y = j * step_px;
      if (x * x + y * y <= range_px * range_px + 1e-9) t.push_back({x, y});
    }
  return t;
}

std::vector<Translation> PerturbedTranslationGrid(double range_px, double step_px, double fraction) {
  std::vector<Translation> t = TranslationGrid(range_px, step_px);
  if (fraction != 0)
    for (Translation& v : t) {
      v.x += fraction * step_px;
      v.y += fraction * step_px;
    }
  return t;
}

}  // namespace emkit
