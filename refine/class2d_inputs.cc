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
    // emkit extract writes defocus 0 when its micrographs had no CTF: a placeholder, not a CTF.
    for (std::size_t i = 0; i < set.particles.size(); ++i) {
      const CtfParams& c = set.particles[i].ctf;
      if (c.defocus_u <= 0 && c.defocus_v <= 0)
        throw InvalidInputError((t ? t->Where(i) : o.input) + ": particle " + set.particles[i].image_name +
                                " has defocus 0 (rlnDefocusU/V), but the CTF is on (the default): add the CTF "
                                "parameters or run with --no-ctf");
    }
  }
  if (!o.references.empty()) ReadMrcFinite(o.references, "--references");
}

}  // namespace emkit
