#include "refine/class2d_inputs.h"

#include "core/error.h"
#include "io/mrc.h"
#include "io/particles.h"

namespace emkit {

void CheckClass2dInputs(const Class2dOptions& o) {
  if (o.ctf && o.continue_from.empty()) {
    const ParticleSet set = ReadParticles(o.input);
    const StarTable* t = set.source.Find(set.particles_block);
    for (const char* column : {"rlnDefocusU", "rlnDefocusV"})
      if (t && !t->Has(column))
        throw InvalidInputError(o.input + ": no _" + std::string(column) +
                                " column, but the CTF is on (the default): add the CTF parameters or run with "
                                "--no-ctf");
  }
  if (!o.references.empty()) ReadMrcFinite(o.references, "--references");
}

}  // namespace emkit
