#include "refine/reconstruct.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>

#include "core/ctf.h"
#include "core/error.h"
#include "core/fft.h"
#include "core/geometry.h"
#include "core/log.h"
#include "core/parallel.h"
#include "io/mrc.h"
#include "io/particles.h"
#include "io/png.h"
#include "io/star.h"
#include "refine/backprojector.h"
#include "refine/particle_prep.h"

namespace emkit {

void ReconstructOptions::Check() const {
  if (input.empty()) throw InvalidInputError("reconstruct: give the particles STAR file (-i)");
  if (output.empty()) throw InvalidInputError("reconstruct: give the output map (-o)");
  if (maxres < 0) throw InvalidInputError("reconstruct: --maxres must be >= 0 Å, got " + std::to_string(maxres));
  if (pad < 1 || pad > 4) throw InvalidInputError("reconstruct: --pad must be 1..4, got " + std::to_string(pad));
  if (iterations < 0) throw InvalidInputError("reconstruct: --iter must be >= 0");
  if (subset < 0 || subset > 2) throw InvalidInputError("reconstruct: --subset must be 0, 1 or 2");
  if (class_number < 0) throw InvalidInputError("reconstruct: --class must be >= 0");
  if (pixel_size < 0) throw InvalidInputError("reconstruct: --pixel-size must be > 0");
  if (threads < 1) throw InvalidInputError("reconstruct: --threads must be >= 1");
  SymmetryGroup check(symmetry);  // throws on an unknown group
}

namespace {

// The columns the job needs, and data it would silently get wrong.
void CheckReconstructInput(const ReconstructOptions& o, const ParticleSet& set) {
  const StarTable* t = set.source.Find(set.particles_block);
  for (const char* label : {"rlnAngleRot", "rlnAngleTilt", "rlnAnglePsi"})
    if (!t || !t->Has(label))
      throw InvalidInputError(o.input + ": no " + label + " column: reconstruct needs each particle's orientation");
  if (o.ctf) RequireParticleCtf(set, o.input, "leave out --ctf to reconstruct without CTF correction");
  if (const StarTable* optics = set.source.Find("optics")) {
    if (o.ctf && optics->Has("rlnCtfDataArePremultiplied"))
      for (std::size_t r = 0; r < optics->num_rows(); ++r)
        if (optics->GetInt(r, "rlnCtfDataArePremultiplied") != 0)
          throw InvalidInputError(optics->Where(r) +
                                  ": rlnCtfDataArePremultiplied = 1 (images already multiplied by the CTF) is not "
                                  "supported by --ctf");
  }
  for (const OpticsGroup& g : set.optics)
    if (std::fabs(g.pixel_size - set.optics.front().pixel_size) > 1e-6 * set.optics.front().pixel_size)
      throw InvalidInputError(o.input + ": optics groups with different pixel sizes (" +
                              std::to_string(set.optics.front().pixel_size) + " and " + std::to_string(g.pixel_size) +
                              " Å) are not supported");
}

}  // namespace

ReconstructResult RunReconstruct(const ReconstructOptions& o, Communicator& comm) {
  o.Check();
  const auto start = std::chrono::steady_clock::now();
  const ParticleSet set = ReadParticles(o.input);
  const ParticleReader reader(set, o.input);
  const SymmetryGroup sym(o.symmetry);
  const int n = reader.box();
  const double apix = o.pixel_size > 0 ? o.pixel_size : reader.pixel_size();
  if (!(apix > 0)) throw InvalidInputError(o.input + ": no pixel size (give --pixel-size)");
  // Origins are in Å of the particles' own pixel size; --pixel-size changes the map's scale only.
  const double origin_apix = reader.pixel_size() > 0 ? reader.pixel_size() : apix;
  CheckReconstructInput(o, set);
  std::vector<int> chosen;
  for (int i = 0; i < reader.count(); ++i) {
    const Particle& p = set.particles[i];
    if (o.subset > 0 && p.random_subset != o.subset) continue;
    if (o.class_number > 0 && p.class_number != o.class_number) continue;
    chosen.push_back(i);
  }
  if (chosen.empty()) throw InvalidInputError(o.input + ": no particle matches --subset/--class");
  // Fourier radius of --maxres (0: Nyquist), at most n/2.
  const int r_max = o.maxres > 0 && n * apix / o.maxres < n / 2 ? static_cast<int>(std::ceil(n * apix / o.maxres)) : 0;
  // The exact total; the back-projector that reconstructs is made from it after the reduction, so
  // the per-thread sums and it are never in memory at once.
  std::vector<__int128> total(BackProjector(n, o.pad, r_max).fixed_size(), 0);

  // Fixed blocks of particles (never depending on threads or ranks); block b goes to rank b mod size.
  // Adding a block's sums to the exact total costs one pass over the stored Fourier cells (~2 n^3
  // at pad 2) and inserting one image ~8 x pi n^2 / 4 updates: blocks of 8 n images keep the pass
  // cheap.
  const int kBlock = std::clamp(8 * n, 64, 4096);
  const int blocks = static_cast<int>((chosen.size() + kBlock - 1) / kBlock);
  std::vector<int> mine;
  for (int b = comm.rank(); b < blocks; b += comm.size()) mine.push_back(b);
  std::vector<std::unique_ptr<BackProjector>> scratch(o.threads);
  std::mutex lock;
  ParallelFor(o.threads, mine.size(), [&](std::size_t j, int t) {
    if (!scratch[t]) scratch[t] = std::make_unique<BackProjector>(n, o.pad, r_max);
    BackProjector& bp = *scratch[t];
    bp.Clear();
    const int b = mine[j];
    const int end = std::min<int>(static_cast<int>(chosen.size()), (b + 1) * kBlock);
    for (int c = b * kBlock; c < end; ++c) {
      const int i = chosen[c];
      const Particle& p = set.particles[i];
      // (The reader refused NaN/Inf particles when it was made.)
      FourierGrid f = CentredFft(reader.Read(i));
      const double ox = p.origin_x_angst / origin_apix, oy = p.origin_y_angst / origin_apix;
      Grid<float> w;
      if (o.ctf) {
        w = Ctf(reader.CtfOf(i)).HalfImage(n, apix);
        for (std::size_t k = 0; k < w.size(); ++k) {
          float c2 = w[k];
          if (o.only_flip_phases) c2 = c2 < 0 ? -1.0f : 1.0f;
          f.data()[k] *= c2;
          w[k] = c2 * c2;
        }
      }
      f.data()[0] = Complex(0, 0);  // relion_reconstruct zeroes each image's DC term (its weight stays)
      bp.Insert(f, o.ctf ? w.data() : nullptr, EulerToMatrix({p.rot, p.tilt, p.psi}), ox, oy);
    }
    std::lock_guard<std::mutex> g(lock);
    bp.AddToFixed(&total);
  });
  comm.SumInt128(&total);
  scratch.clear();
  ReconstructResult r;
  if (comm.is_root()) {  // the other ranks' part is done
    BackProjector total_bp(n, o.pad, r_max);
    r.r_max = total_bp.r_max();
    total_bp.SetFromFixed(total);
    total.clear();
    total.shrink_to_fit();
    total_bp.Symmetrise(sym, o.threads);
    BackProjector::ReconstructOptions ro;
    ro.iterations = o.iterations;
    ro.threads = o.threads;
    const Volume map = total_bp.Reconstruct(ro);
    MrcWriteOptions wo;
    wo.pixel_size = apix;
    wo.kind = MrcKind::kVolume;
    WriteMrc(o.output, map, wo);
    if (!o.picture.empty()) WriteMapPicture(o.picture, map);
  }
  r.particles = static_cast<long>(chosen.size());
  r.box = n;
  r.pixel_size = apix;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace emkit
