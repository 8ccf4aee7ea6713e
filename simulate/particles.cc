#include "simulate/particles.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "core/parallel.h"
#include "core/projector.h"
#include "core/random.h"
#include "io/mrc.h"
#include "io/particles.h"
#include "simulate/phantom.h"
#include "simulate/pictures.h"

namespace emkit {

void ParticleSimOptions::Check() const {
  auto bad = [](const std::string& m) { throw InvalidInputError(m); };
  if (maps.empty() == phantom.empty()) bad("give either --map (one or more) or --phantom");
  if (!phantom.empty() && !IsPhantomName(phantom))
    bad("--phantom '" + phantom + "': unknown (asym, asym-broken, rod, gaussian)");
  if (!(phantom_diameter > 0)) bad("--diameter must be > 0");
  if (angles.empty() && n < 1) bad("--n must be >= 1");
  if (box != 0 && (box < 8 || box > 4096)) bad("--box must be in [8, 4096]");
  if (pixel_size < 0) bad("--pixel-size must be > 0");
  if (!(snr > 0) || !std::isfinite(snr)) bad("--snr must be > 0 (got " + std::to_string(snr) + ")");
  if (contrast != "white" && contrast != "dark") bad("--contrast must be white or dark");
  if (defocus_min <= 0 || defocus_max < defocus_min) bad("--defocus-min/--defocus-max: need 0 < min <= max (Å)");
  if (astigmatism < 0) bad("--astigmatism must be >= 0");
  if (voltage <= 0 || cs < 0 || amplitude_contrast < 0 || amplitude_contrast >= 1)
    bad("--voltage/--cs/--q out of range");
  if (bfactor < 0) bad("--bfactor must be >= 0");
  if (out.empty()) bad("--out is required");
  if (threads < 1) bad("threads must be >= 1");
}

namespace {

struct Draw {
  int map = 0;
  Euler e;
  double ox = 0, oy = 0;  // rlnOriginX/YAngst
  CtfParams ctf;
};

// Parameters of particle i from its own stream (independent of threads and of the noise).
Draw RandomDraw(const ParticleSimOptions& opt, int n_maps, double pixel, std::size_t i) {
  Rng rng(opt.seed, StreamId("sim-particle", i));
  Draw d;
  d.map = n_maps > 1 ? rng.UniformInt(0, n_maps - 1) : 0;
  d.e.rot = rng.Uniform(-180, 180);
  d.e.tilt = std::acos(rng.Uniform(-1, 1)) * 180 / M_PI;  // uniform on the sphere
  d.e.psi = rng.Uniform(-180, 180);
  const double max_off = opt.max_offset < 0 ? 2 * pixel : opt.max_offset;
  d.ox = rng.Uniform(-max_off, max_off);
  d.oy = rng.Uniform(-max_off, max_off);
  const double def = rng.Uniform(opt.defocus_min, opt.defocus_max);
  const double astig = rng.Uniform(0, opt.astigmatism);
  d.ctf.defocus_u = def + astig / 2;
  d.ctf.defocus_v = def - astig / 2;
  d.ctf.defocus_angle = rng.Uniform(0, 180);
  return d;
}

double Variance(const Image& img) {
  const Stats s = ComputeStats(img);
  return s.stddev * s.stddev;
}

}  // namespace

ParticleSimResult SimulateParticles(const ParticleSimOptions& opt) {
  opt.Check();
  // Everything is read and checked before any output exists.
  std::vector<SimMap> maps;
  if (!opt.phantom.empty()) {
    maps.push_back(MakeSimPhantom(opt.phantom, opt.pixel_size > 0 ? opt.pixel_size : 4.0, opt.phantom_diameter));
  } else {
    for (const auto& m : opt.maps) maps.push_back(LoadSimMap(m, opt.pixel_size, opt.rescale));
  }
  const double pixel = opt.pixel_size > 0 ? opt.pixel_size : maps[0].pixel_size;
  int natural_box = 0;
  for (const auto& m : maps) {
    if (std::fabs(m.pixel_size - pixel) > 1e-3 * pixel) {
      if (!opt.rescale)
        throw InvalidInputError(m.name + ": pixel size " + std::to_string(m.pixel_size) + " Å differs from " +
                                std::to_string(pixel) + " Å (add --rescale to resample)");
      LOG_INFO(m.name << ": resampled from " << m.pixel_size << " to " << pixel << " Å/px in Fourier space");
    }
    int b = static_cast<int>(std::lround(m.volume.nx() * m.pixel_size / pixel));
    natural_box = std::max(natural_box, b + b % 2);
  }
  const int box = opt.box > 0 ? opt.box : natural_box;
  for (const auto& m : maps)
    if (m.diameter / pixel > box)
      LOG_WARN(m.name << ": the particle (~" << m.diameter << " Å) is larger than the box (" << box * pixel << " Å)");

  std::vector<Draw> draws;
  if (!opt.angles.empty()) {
    const ParticleSet given = ReadParticles(opt.angles);
    const StarTable* t = given.source.Find(given.particles_block);
    const bool has_ctf = t && t->Has("rlnDefocusU");
    const bool has_class = t && t->Has("rlnClassNumber");
    for (std::size_t i = 0; i < given.particles.size(); ++i) {
      const Particle& p = given.particles[i];
      Draw d = RandomDraw(opt, static_cast<int>(maps.size()), pixel, i);
      d.e = {p.rot, p.tilt, p.psi};
      d.ox = p.origin_x_angst;
      d.oy = p.origin_y_angst;
      if (has_ctf) {
        d.ctf.defocus_u = p.ctf.defocus_u;
        d.ctf.defocus_v = p.ctf.defocus_v;
        d.ctf.defocus_angle = p.ctf.defocus_angle;
        d.ctf.phase_shift = p.ctf.phase_shift;
      }
      if (has_class) {
        if (p.class_number < 1 || p.class_number > static_cast<int>(maps.size()))
          throw InvalidInputError(t->Where(i) + ": rlnClassNumber " + std::to_string(p.class_number) + " but only " +
                                  std::to_string(maps.size()) + " map(s) given");
        d.map = p.class_number - 1;
      }
      draws.push_back(d);
    }
    if (draws.empty()) throw InvalidInputError(opt.angles + ": no particles");
  } else {
    for (int i = 0; i < opt.n; ++i) draws.push_back(RandomDraw(opt, static_cast<int>(maps.size()), pixel, i));
  }
  for (auto& d : draws) {
    d.ctf.voltage_kv = opt.voltage;
    d.ctf.cs_mm = opt.cs;
    d.ctf.amplitude_contrast = opt.amplitude_contrast;
    d.ctf.bfactor = opt.bfactor;
    d.ctf.Check();
  }

  std::vector<std::unique_ptr<Projector>> projectors;
  for (const auto& m : maps) projectors.push_back(std::make_unique<Projector>(m.volume, m.pixel_size));
  auto noiseless = [&](std::size_t i) {
    const Draw& d = draws[i];
    const Ctf ctf(d.ctf);
    // The image holds the projection moved by -origin (RELION).
    Image img = projectors[d.map]->Project(d.e, box, pixel, -d.ox / pixel, -d.oy / pixel, opt.ctf ? &ctf : nullptr);
    if (opt.contrast == "dark")
      for (auto& v : img) v = -v;
    return img;
  };

  // One noise level for the stack, from the mean signal variance of a fixed pilot set.
  const std::size_t n = draws.size();
  const std::size_t pilot = std::min<std::size_t>(n, 256);
  std::vector<double> pilot_var(pilot);
  ParallelFor(opt.threads, pilot, [&](std::size_t i, int) { pilot_var[i] = Variance(noiseless(i)); });
  double mean_var = 0;
  for (double v : pilot_var) mean_var += v / pilot;
  if (!(mean_var > 0)) throw InvalidInputError("the projections have no signal (empty map?)");
  const double sigma = std::sqrt(mean_var / opt.snr);

  CreateDirectories(opt.out);
  ParticleSimResult result;
  result.stack = JoinPath(opt.out, "particles.mrcs");
  result.star = JoinPath(opt.out, "particles.star");
  MrcWriteOptions wo;
  wo.pixel_size = pixel;
  wo.kind = MrcKind::kStack;
  MrcStackWriter writer(result.stack, box, box, wo);
  std::unique_ptr<MrcStackWriter> clean;
  if (opt.write_noiseless)
    clean = std::make_unique<MrcStackWriter>(JoinPath(opt.out, "particles_noiseless.mrcs"), box, box, wo);

  const std::size_t chunk = 256;
  std::vector<Image> noisy(chunk), signal(chunk);
  std::vector<double> var(chunk);
  double sum_var = 0;
  std::vector<Image> picture_tiles, picture_clean;
  Progress progress("simulate particles", n);
  for (std::size_t start = 0; start < n; start += chunk) {
    const std::size_t count = std::min(chunk, n - start);
    ParallelFor(opt.threads, count, [&](std::size_t j, int) {
      const std::size_t i = start + j;
      signal[j] = noiseless(i);
      var[j] = Variance(signal[j]);
      Rng rng(opt.seed, StreamId("sim-particle-noise", i));
      noisy[j] = signal[j];
      for (auto& v : noisy[j]) v += static_cast<float>(sigma * rng.Normal());
    });
    for (std::size_t j = 0; j < count; ++j) {
      writer.Append(noisy[j]);
      if (clean) clean->Append(signal[j]);
      sum_var += var[j];
      if (opt.pictures && picture_tiles.size() < 8) {
        picture_tiles.push_back(noisy[j]);
        picture_clean.push_back(signal[j]);
      }
    }
    progress.Advance(count);
  }
  progress.Finish();

  ParticleSet set;
  OpticsGroup g;
  g.voltage_kv = opt.voltage;
  g.cs_mm = opt.cs;
  g.amplitude_contrast = opt.amplitude_contrast;
  g.pixel_size = pixel;
  g.image_size = box;
  set.optics.push_back(g);
  for (std::size_t i = 0; i < n; ++i) {
    const Draw& d = draws[i];
    Particle p;
    p.image_name = MakeImageName(static_cast<int>(i), result.stack);
    p.ctf = d.ctf;
    p.rot = d.e.rot;
    p.tilt = d.e.tilt;
    p.psi = d.e.psi;
    p.origin_x_angst = d.ox;
    p.origin_y_angst = d.oy;
    p.class_number = d.map + 1;
    set.particles.push_back(p);
  }
  writer.Close();
  if (clean) clean->Close();
  WriteParticles(result.star, set);
  if (opt.pictures) {
    CreateDirectories(JoinPath(opt.out, "pictures"));
    picture_tiles.insert(picture_tiles.end(), picture_clean.begin(), picture_clean.end());
    WriteMontage(JoinPath(opt.out, "pictures/particles.png"), picture_tiles, static_cast<int>(picture_clean.size()));
  }

  result.count = static_cast<int>(n);
  result.box = box;
  result.pixel_size = pixel;
  result.noise_sigma = sigma;
  result.measured_snr = sum_var / n / (sigma * sigma);
  LOG_INFO("simulated " << n << " particles of " << box << " px at " << pixel << " Å/px, SNR " << result.measured_snr
                        << " (noise sigma " << sigma << ") into " << opt.out);
  return result;
}

}  // namespace emkit
