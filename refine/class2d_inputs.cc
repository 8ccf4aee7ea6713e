#include "refine/class2d_inputs.h"

#include "core/error.h"
#include "io/mrc.h"
#include "io/particles.h"

namespace emkit {

void CheckClass2dInputs(const Class2dOptions& o) {
  if (o.ctf && o.continue_from.empty())
    RequireParticleCtf(ReadParticles(o.input), o.input, "run class2d with --no-ctf (the CTF is on by default)");
  if (!o.references.empty()) ReadMrcFinite(o.references, "--references");
}

}  // namespace emkit
