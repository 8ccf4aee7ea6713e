// Up-front checks of a class2d job's input files (cheap next to the iterations): the STAR
// columns the options need and the starting references.
#pragma once

#include "refine/class2d_options.h"

namespace emkit {

// Throws InvalidInputError naming the file and the column or value: the CTF on but no
// rlnDefocusU/V in the particles STAR, --references with NaN/Inf pixels. (The particle images
// themselves are checked by ParticleReader.)
void CheckClass2dInputs(const Class2dOptions& options);

}  // namespace emkit
