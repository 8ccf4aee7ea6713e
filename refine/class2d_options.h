// Options of a 2D classification job (emkit class2d), with RELION's defaults.
#pragma once

#include <string>

#include "refine/classification_options.h"

namespace emkit {

struct Class2dOptions : ClassificationOptions {
  std::string references;      // optional .mrcs of K starting class images
  double psi_step = 6;         // degrees
  bool center_classes = true;  // re-centre class averages on their centre of mass
  double initial_lowpass = 0;  // Å: random-start averages are limited to this (0: RELION's 0.07 x box shells)

  void Check() const;  // throws InvalidInputError naming the bad option
};

}  // namespace emkit
