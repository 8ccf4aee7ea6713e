#include "simulate/micrographs.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <sstream>

#include "core/ctf.h"
#include "core/error.h"
#include "core/fft.h"
#include "core/files.h"
#include "core/log.h"
#include "core/parallel.h"
#include "core/projector.h"
#include "core/random.h"
#include "io/mrc.h"
#include "io/particles.h"
#include "io/star.h"
#include "simulate/compose.h"
#include "simulate/phantom.h"
#include "simulate/pictures.h"
#include "simulate/placement.h"

namespace emkit {

void MicrographSimOptions::Check() const {
  auto bad = [](const std::string& m) { throw InvalidInputError(m); };
  if (maps.empty() == phantom.empty()) bad("give either --map (one or more) or --phantom");
  if (!phantom.empty() && !IsPhantomName(phantom))
    bad("--phantom '" + phantom + "': unknown (asym, asym-broken, rod, gaussian)");
  if (!(phantom_diameter > 0)) bad("--diameter must be > 0");
  if (particle_diameter < 0) bad("--particle-diameter must be >= 0");
  if (n < 1) bad("--n must be >= 1");
  if (nx < 64 || ny < 64 || nx > 16384 || ny > 16384) bad("micrograph size must be in [64, 16384] pixels");
  if (pixel_size < 0) bad("--pixel-size must be > 0");
  if (particles < 0) bad("--particles must be >= 0");
  if (!(coverage > 0) || coverage >= 1) bad("--coverage must be in (0, 1)");
  if (!(snr > 0) || !std::isfinite(snr)) bad("--snr must be > 0 (got " + std::to_string(snr) + ")");
  if (touching < 0 || touching > 1) bad("--touching must be in [0, 1]");
  if (contrast != "dark" && contrast != "white") bad("--contrast must be dark or white");
  if (ice_blobs < 0 || aggregates < 0) bad("--ice-blobs/--aggregates must be >= 0");
  if (carbon_edge < 0 || carbon_edge > 1) bad("--carbon-edge is a probability in [0, 1]");
  if (hard_negatives != "none" && hard_negatives != "broken" && hard_negatives != "rod")
    bad("--hard-negatives must be none, broken or rod");
  if (hard_negative_fraction < 0 || hard_negative_fraction > 1) bad("--hard-negative-fraction must be in [0, 1]");
  if (defocus_min <= 0 || defocus_max < defocus_min) bad("--defocus-min/--defocus-max: need 0 < min <= max (Å)");
  if (astigmatism < 0) bad("--astigmatism must be >= 0");
  if (voltage <= 0 || cs < 0 || amplitude_contrast < 0 || amplitude_contrast >= 1)
    bad("--voltage/--cs/--q out of range");
  if (bfactor_min < 0 || bfactor_max < bfactor_min) bad("--bfactor-min/--bfactor-max: need 0 <= min <= max");
  if (noise_colour < 0 || noise_colour > 1) bad("--noise-colour must be in [0, 1]");
  if (ice_gradient < 0) bad("--ice-gradient must be >= 0");
  if (ice_ctf < 0 || ice_ctf > 1) bad("--ice-ctf must be in [0, 1]");
  if (mtf < 0 || mtf > 8) bad("--mtf must be in [0, 8]");
  if (out.empty()) bad("--out is required");
  if (threads < 1) bad("threads must be >= 1");
}

namespace {

std::string MicName(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "mic_%04d", i + 1);
  return buf;
}

StarTable TruthTable(const std::vector<PlacedObject>& objs, bool decoys) {
  StarTable t("");
  for (const char* l : {"rlnCoordinateX", "rlnCoordinateY"}) t.AddColumn(l);
  if (decoys) {
    t.AddColumn("emkitDecoyType");
    t.AddColumn("emkitDecoyRadius");
  } else {
    for (const char* l : {"rlnAngleRot", "rlnAngleTilt", "rlnAnglePsi", "rlnClassNumber"}) t.AddColumn(l);
  }
  for (const auto& o : objs) {
    if ((o.kind == ObjectKind::kTarget) == decoys) continue;
    if (decoys)
      t.AddRow({FormatStarNumber(o.x), FormatStarNumber(o.y), ObjectKindName(o.kind), FormatStarNumber(o.radius)});
    else
      t.AddRow({FormatStarNumber(o.x), FormatStarNumber(o.y), FormatStarNumber(o.e.rot), FormatStarNumber(o.e.tilt),
                FormatStarNumber(o.e.psi), std::to_string(o.map + 1)});
  }
  return t;
}

}  // namespace

MicrographSimResult SimulateMicrographs(const MicrographSimOptions& opt) {
  opt.Check();
  // Maps, projectors and the capacity check come before any output.
  std::vector<SimMap> maps;
  if (!opt.phantom.empty())
    maps.push_back(MakeSimPhantom(opt.phantom, opt.pixel_size > 0 ? opt.pixel_size : 4.0, opt.phantom_diameter));
  else
    for (const auto& m : opt.maps) maps.push_back(LoadSimMap(m, opt.pixel_size, opt.rescale));
  const double pixel = opt.pixel_size > 0 ? opt.pixel_size : maps[0].pixel_size;
  for (const auto& m : maps)
    if (std::fabs(m.pixel_size - pixel) > 1e-3 * pixel && !opt.rescale)
      throw InvalidInputError(m.name + ": pixel size " + std::to_string(m.pixel_size) + " Å differs from " +
                              std::to_string(pixel) + " Å (add --rescale to resample)");
  if (opt.particle_diameter > 0)
    for (auto& m : maps) m.diameter = opt.particle_diameter;

  ComposeSetup setup;
  setup.pixel_size = pixel;
  setup.nx = opt.nx;
  setup.ny = opt.ny;
  for (const auto& m : maps) setup.targets.push_back(MakeSource(m, pixel));
  if (opt.hard_negatives == "broken") {
    SimMap b = maps[0];
    b.name += " (broken)";
    b.volume = BrokenVersion(maps[0].volume, maps[0].pixel_size, maps[0].diameter);
    setup.hard_negative = std::make_unique<ProjectionSource>(MakeSource(b, pixel));
  } else if (opt.hard_negatives == "rod") {
    SimMap rod = MakeSimPhantom("rod", maps[0].pixel_size, maps[0].diameter);
    setup.hard_negative = std::make_unique<ProjectionSource>(MakeSource(rod, pixel));
  }
  double mean_r = 0, max_r = 0;
  for (const auto& s : setup.targets) {
    mean_r += s.radius_px / setup.targets.size();
    max_r = std::max(max_r, s.radius_px);
    if (2 * s.radius_px > std::min(opt.nx, opt.ny) / 2)
      throw InvalidInputError(s.name + ": a particle of " + std::to_string(2 * s.radius_px) +
                              " px does not fit a micrograph of " + std::to_string(opt.nx) + "x" +
                              std::to_string(opt.ny) + " px");
  }
  const double usable = double(opt.nx - 2 * max_r) * double(opt.ny - 2 * max_r);
  const int per_mic =
      opt.particles > 0 ? opt.particles
                        : std::max(1, static_cast<int>(std::lround(opt.coverage * usable / (M_PI * mean_r * mean_r))));
  const int hard = static_cast<int>(std::lround(opt.hard_negative_fraction * per_mic * (setup.hard_negative ? 1 : 0)));
  const double covered = (per_mic + hard) * M_PI * mean_r * mean_r / usable;
  if (covered > 0.45) {
    std::ostringstream m;
    m << "more particles than fit: " << per_mic << " particles";
    if (hard) m << " and " << hard << " hard negatives";
    m << " of " << 2 * mean_r * pixel << " Å would cover " << static_cast<int>(100 * covered) << "% of a " << opt.nx
      << "x" << opt.ny << " micrograph at " << pixel
      << " Å/px; random non-overlapping placement allows at most 45% (lower --particles or --density)";
    throw InvalidInputError(m.str());
  }
  setup.targets_per_micrograph = per_mic;
  setup.hard_negatives_per_micrograph = hard;

  const std::string mic_dir = JoinPath(opt.out, "micrographs"), truth_dir = JoinPath(opt.out, "truth");
  CreateDirectories(mic_dir);
  CreateDirectories(truth_dir);
  const std::string noiseless_dir = JoinPath(opt.out, "noiseless");
  if (opt.write_noiseless) CreateDirectories(noiseless_dir);
  if (opt.pictures) CreateDirectories(JoinPath(opt.out, "pictures"));
  std::vector<ComposedMicrograph> done(opt.n);
  // Micrographs in parallel, one in memory per thread. FFTs stay single-threaded: a threaded
  // FFTW plan may sum in another order, and results must not depend on --threads.
  const int workers = std::min(opt.threads, opt.n);
  const int fft_threads = 1;
  Progress progress("simulate micrographs", opt.n);
  ParallelFor(workers, opt.n, [&](std::size_t i, int) {
    Image mic, clean;
    done[i] =
        ComposeMicrograph(setup, opt, static_cast<int>(i), fft_threads, &mic, opt.write_noiseless ? &clean : nullptr);
    MrcWriteOptions wo;
    wo.pixel_size = pixel;
    if (opt.write_noiseless) WriteMrc(JoinPath(noiseless_dir, MicName(static_cast<int>(i)) + ".mrc"), clean, wo);
    WriteMrc(JoinPath(mic_dir, MicName(static_cast<int>(i)) + ".mrc"), mic, wo);
    StarFile truth, decoys;
    truth.Add(TruthTable(done[i].objects, false));
    decoys.Add(TruthTable(done[i].objects, true));
    WriteStar(JoinPath(truth_dir, MicName(static_cast<int>(i)) + ".star"), truth);
    WriteStar(JoinPath(truth_dir, MicName(static_cast<int>(i)) + "_decoys.star"), decoys);
    if (opt.pictures && i < 3)
      WriteTruthPicture(JoinPath(opt.out, "pictures/" + MicName(static_cast<int>(i)) + ".png"), mic, done[i].objects);
    progress.Advance();
  });
  progress.Finish();

  MicrographSimResult result;
  result.pixel_size = pixel;
  MicrographSet mics;
  OpticsGroup g;
  g.voltage_kv = opt.voltage;
  g.cs_mm = opt.cs;
  g.amplitude_contrast = opt.amplitude_contrast;
  g.pixel_size = pixel;
  mics.optics.push_back(g);
  ParticleSet truth;
  g.image_size = 0;
  truth.optics.push_back(g);
  for (int i = 0; i < opt.n; ++i) {
    const std::string name = JoinPath(mic_dir, MicName(i) + ".mrc");
    MicrographEntry e;
    e.name = name;
    e.has_ctf = true;
    e.ctf = done[i].ctf;
    mics.micrographs.push_back(e);
    for (const auto& o : done[i].objects) {
      if (o.kind == ObjectKind::kTarget) {
        Particle p;
        p.micrograph_name = name;
        p.x = o.x;
        p.y = o.y;
        p.ctf = done[i].ctf;
        p.rot = o.e.rot;
        p.tilt = o.e.tilt;
        p.psi = o.e.psi;
        p.class_number = o.map + 1;
        truth.particles.push_back(p);
        ++result.targets;
      } else if (o.kind == ObjectKind::kHardNegative) {
        ++result.hard_negatives;
      } else {
        ++result.decoys;
      }
    }
    result.mean_measured_snr += done[i].measured_snr / opt.n;
    result.skipped += done[i].skipped;
    result.files.push_back(name);
  }
  WriteMicrographs(JoinPath(opt.out, "micrographs.star"), mics);
  WriteParticles(JoinPath(opt.out, "truth.star"), truth);
  result.micrographs = opt.n;
  if (result.skipped > 0)
    LOG_WARN(result.skipped << " particle(s) or decoy(s) found no free place and were left out (truth files list only "
                               "what was placed); lower --density/--particles for the requested counts");
  LOG_INFO("simulated " << opt.n << " micrographs " << opt.nx << "x" << opt.ny << " at " << pixel
                        << " Å/px: " << result.targets << " particles, " << result.hard_negatives << " hard negatives, "
                        << result.decoys << " decoys, SNR " << result.mean_measured_snr << " into " << opt.out);
  return result;
}

}  // namespace emkit
