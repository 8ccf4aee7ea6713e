// The command-line options that emkit class2d and emkit class3d share, mapped to flags once
// (RELION's spellings as aliases), so that both commands take the same flag for the same thing.
#pragma once

#include <CLI/CLI.hpp>
#include <vector>

#include "apps/command_line.h"
#include "refine/classification_options.h"

namespace emkit {

struct ClassificationFlags {
  bool no_ctf = false, no_png = false, overwrite = false;
  CommonOptions common;
};

// -i/-o, --K, --iter, --particle-diameter, --tau2-fudge, --offset-range/step, the CTF options,
// --zero-mask, --continue, --incr-size, --chunk, --norm, --scale, --ignore-offsets, --no-png,
// --overwrite and the common options (--threads, --seed, ...).
void AddClassificationOptions(CLI::App& app, ClassificationOptions* o, ClassificationFlags* f,
                              const std::string& output_description);
// --perturb of the 3D commands (class3d, refine3d): the random perturbation of the sampling.
void AddPerturbOption(CLI::App& app, double* perturb);
// --projection-memory (class3d, refine3d): MB of tabulated projections per rank.
void AddProjectionMemoryOption(CLI::App& app, int* megabytes);
// Range checks of the shared options, followed by the command's own.
void AddClassificationRangeChecks(CLI::App& app, std::vector<RangeCheck> own);
// After parsing: threads, seed, --no-ctf, --no-png into the options.
void ApplyClassificationFlags(ClassificationFlags* f, ClassificationOptions* o);

}  // namespace emkit
