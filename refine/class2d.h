// emkit class2d: regularised maximum-likelihood 2D classification (RELION's algorithm,
// science.md §3), threads inside a process x particles split across MPI ranks, with
// bit-identical results for any thread or rank count.
#pragma once

#include <string>
#include <vector>

#include "refine/class2d_model.h"
#include "refine/class2d_options.h"
#include "refine/communicator.h"

namespace emkit {

struct Class2dResult {
  int first_iteration = 0, last_iteration = 0;
  std::vector<double> seconds_per_iteration;
  std::string last_model_star, last_data_star, last_classes, last_png;
};

// Runs the job; every rank calls it. Only rank 0 writes files.
Class2dResult RunClass2d(const Class2dOptions& options, Communicator& comm, const std::string& command_line = "");

// File name of iteration `it` in `dir`, e.g. IterationFile(d, 3, "model.star") = d/run_it003_model.star.
std::string IterationFile(const std::string& dir, int it, const std::string& suffix);

// The optimiser.star of iteration `it` in `dir` for a class2d or class3d run: its files and the
// options both share (each job adds its own sampling).
OptimiserState RunOptimiserState(const ClassificationOptions& opt, const std::string& dir, int it);

}  // namespace emkit
