#include "refine/class2d_options.h"

#include "core/error.h"

namespace emkit {

void ClassificationOptions::CheckShared(const std::string& program) const {
  auto fail = [&](const std::string& what) { throw InvalidInputError(program + ": " + what); };
  if (input.empty() && continue_from.empty()) fail("--i (particles STAR) or --continue is required");
  if (out_dir.empty()) fail("--o (output folder) is required");
  if (classes < 1 || classes > 10000) fail("--K must be in [1, 10000], got " + std::to_string(classes));
  if (iterations < 1) fail("--iter must be at least 1");
  if (particle_diameter < 0) fail("--particle-diameter must not be negative");
  if (!(tau2_fudge > 0)) fail("--tau2-fudge must be positive");
  if (offset_range < 0) fail("--offset-range must not be negative");
  if (!(offset_step > 0)) fail("--offset-step must be positive");
  if (!(adaptive_fraction > 0 && adaptive_fraction <= 1)) fail("adaptive fraction must be in (0, 1]");
  if (incr_size < 0) fail("--incr-size must not be negative, got " + std::to_string(incr_size));
  if (chunk_size < 0) fail("--chunk must not be negative");
  if (!(strict_highres_exp >= 0)) fail("--strict-highres-exp must not be negative");
  if (threads < 1) fail("--threads must be at least 1");
  if (only_flip_phases && !ctf) fail("--only-flip-phases needs --ctf");
  if (ctf_intact_first_peak && !ctf) fail("--ctf-intact-first-peak needs --ctf");
}

void Class2dOptions::Check() const {
  CheckShared("class2d");
  auto fail = [](const std::string& what) { throw InvalidInputError("class2d: " + what); };
  if (!(psi_step > 0 && psi_step <= 360)) fail("--psi-step must be in (0, 360]");
  if (initial_lowpass < 0) fail("--initial-lowpass must not be negative");
}

}  // namespace emkit
