#include "simulate/compose.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/fft.h"
#include "core/filters.h"
#include "core/random.h"
#include "simulate/micrographs.h"
#include "simulate/placement.h"

namespace emkit {
namespace {

double SmoothStep(double t) {  // 0 below 0, 1 above 1
  if (t <= 0) return 0;
  if (t >= 1) return 1;
  return t * t * (3 - 2 * t);
}

int Poisson(Rng* rng, double mean) {
  if (mean <= 0) return 0;
  const double l = std::exp(-mean);
  int k = 0;
  double p = rng->Uniform();
  while (p > l && k < 1000) {
    ++k;
    p *= rng->Uniform();
  }
  return k;
}

Euler RandomOrientation(Rng* rng) {
  Euler e;
  e.rot = rng->Uniform(-180, 180);
  e.tilt = std::acos(rng->Uniform(-1, 1)) * 180 / M_PI;
  e.psi = rng->Uniform(-180, 180);
  return e;
}

// Adds the projection of `src` with its centre at (x, y) (sub-pixel, by a Fourier shift).
void PasteProjection(const ProjectionSource& src, const Euler& e, double x, double y, double pixel, Image* canvas) {
  const int ix = static_cast<int>(std::floor(x)), iy = static_cast<int>(std::floor(y));
  const Image p = src.projector->Project(e, src.box, pixel, x - ix, y - iy);
  const int b = src.box, h = b / 2;
  // The box corners carry only interpolation residue: a soft circular edge keeps the box
  // outline from printing into the micrograph.
  const double edge = std::max(2.0, 0.05 * b), radius = h - edge - 1;
  for (int v = 0; v < b; ++v) {
    const int cy = iy - h + v;
    if (cy < 0 || cy >= canvas->ny()) continue;
    for (int u = 0; u < b; ++u) {
      const int cx = ix - h + u;
      if (cx < 0 || cx >= canvas->nx()) continue;
      const double r = std::hypot(u - h - (x - ix), v - h - (y - iy));
      (*canvas)(cx, cy) += static_cast<float>(p(u, v) * SoftMaskWeight(r, radius, edge));
    }
  }
}

template <class F>
void ForDisc(const Image& img, double x, double y, double r, F&& f) {
  const int y0 = std::max(0, int(std::floor(y - r))), y1 = std::min(img.ny() - 1, int(std::ceil(y + r)));
  const int x0 = std::max(0, int(std::floor(x - r))), x1 = std::min(img.nx() - 1, int(std::ceil(x + r)));
  for (int v = y0; v <= y1; ++v)
    for (int u = x0; u <= x1; ++u) {
      const double d = std::sqrt((u - x) * (u - x) + (v - y) * (v - y));
      if (d <= r) f(u, v, d);
    }
}

void AddGaussian(Image* img, double x, double y, double sigma, double amp) {
  const double inv = 1.0 / (2 * sigma * sigma);
  ForDisc(*img, x, y, 4 * sigma,
          [&](int u, int v, double d) { (*img)(u, v) += static_cast<float>(amp * std::exp(-d * d * inv)); });
}

// Thickness profile of a sphere of radius r (1 at the centre), with a 2-pixel soft rim.
void AddSphere(Image* img, double x, double y, double r, double amp) {
  ForDisc(*img, x, y, r + 2, [&](int u, int v, double d) {
    const double t = d < r ? std::sqrt(1 - (d * d) / (r * r)) : 0;
    const double rim = 1 - SmoothStep((d - r) / 2);
    (*img)(u, v) += static_cast<float>(amp * t * rim);
  });
}

struct CarbonEdge {
  bool present = false;
  double cos_t = 1, sin_t = 0, d0 = 0;
  double cx = 0, cy = 0;
  // Signed distance (pixels) into the carbon.
  double Depth(double x, double y) const { return (x - cx) * cos_t + (y - cy) * sin_t - d0; }
};

}  // namespace

const char* ObjectKindName(ObjectKind k) {
  switch (k) {
    case ObjectKind::kTarget:
      return "target";
    case ObjectKind::kHardNegative:
      return "hard_negative";
    case ObjectKind::kIceBlob:
      return "ice";
    case ObjectKind::kAggregate:
      return "aggregate";
    case ObjectKind::kCarbonEdge:
      return "carbon_edge";
  }
  return "?";
}

ProjectionSource MakeSource(const SimMap& map, double out_pixel_size) {
  ProjectionSource s;
  s.name = map.name;
  s.projector = std::make_shared<Projector>(map.volume, map.pixel_size);
  int box = static_cast<int>(std::ceil(map.volume.nx() * map.pixel_size / out_pixel_size - 1e-6));
  s.box = box + box % 2;
  s.radius_px = map.diameter / 2 / out_pixel_size;
  const Image ref = s.projector->Project({0, 0, 0}, s.box, out_pixel_size);
  s.peak = ComputeStats(ref).max;
  if (!(s.peak > 0)) throw InvalidInputError(map.name + ": its projection has no positive density");
  return s;
}

ComposedMicrograph ComposeMicrograph(const ComposeSetup& setup, const MicrographSimOptions& opt, int index,
                                     int fft_threads, Image* mic, Image* noiseless) {
  const int nx = setup.nx, ny = setup.ny;
  const double pixel = setup.pixel_size;
  ComposedMicrograph out;
  Rng rng(opt.seed, StreamId("sim-mic-layout", index));

  // Optics of this micrograph.
  const double def = rng.Uniform(opt.defocus_min, opt.defocus_max), astig = rng.Uniform(0, opt.astigmatism);
  out.ctf.voltage_kv = opt.voltage;
  out.ctf.cs_mm = opt.cs;
  out.ctf.amplitude_contrast = opt.amplitude_contrast;
  out.ctf.defocus_u = def + astig / 2;
  out.ctf.defocus_v = def - astig / 2;
  out.ctf.defocus_angle = rng.Uniform(0, 180);
  out.ctf.bfactor = rng.Uniform(opt.bfactor_min, opt.bfactor_max);

  // Layout: carbon, ice, aggregates, targets, hard negatives.
  double max_r = 0, peak = 0;
  for (const auto& s : setup.targets) {
    max_r = std::max(max_r, s.radius_px);
    peak = std::max(peak, s.peak);
  }
  CarbonEdge carbon;
  if (rng.Uniform() < opt.carbon_edge) {
    const double t = rng.Uniform(0, 2 * M_PI);
    carbon = {true, std::cos(t), std::sin(t), rng.Uniform(0.1, 0.35) * std::min(nx, ny), nx / 2.0, ny / 2.0};
    PlacedObject o;
    o.kind = ObjectKind::kCarbonEdge;
    o.x = carbon.cx + carbon.d0 * carbon.cos_t;  // foot of the edge line nearest the centre
    o.y = carbon.cy + carbon.d0 * carbon.sin_t;
    out.objects.push_back(o);
  }
  auto off_carbon = [&](double r) {
    return [&carbon, r](double x, double y) { return !carbon.present || carbon.Depth(x, y) < -r; };
  };
  DiscPlacer placer(nx, ny, max_r);
  Disc d;
  const int n_ice = Poisson(&rng, opt.ice_blobs), n_agg = Poisson(&rng, opt.aggregates);
  for (int i = 0; i < n_ice; ++i) {
    const double r = rng.Uniform(0.6, 2.0) * max_r;
    if (placer.PlaceRandom(&rng, r, 0, off_carbon(0), &d, 50))
      out.objects.push_back({ObjectKind::kIceBlob, d.x, d.y, d.r, 0, {}});
    else
      ++out.skipped;
  }
  for (int i = 0; i < n_agg; ++i) {
    const double r = rng.Uniform(1.3, 2.5) * max_r;
    if (placer.PlaceRandom(&rng, r, 0, off_carbon(0), &d, 50))
      out.objects.push_back({ObjectKind::kAggregate, d.x, d.y, d.r, 0, {}});
    else
      ++out.skipped;
  }
  std::vector<int> target_ids;
  for (int i = 0; i < setup.targets_per_micrograph; ++i) {
    const int map = setup.targets.size() > 1 ? rng.UniformInt(0, static_cast<int>(setup.targets.size()) - 1) : 0;
    const double r = setup.targets[map].radius_px;
    bool ok = false;
    if (!target_ids.empty() && rng.Uniform() < opt.touching) {
      const PlacedObject& nb = out.objects[target_ids[rng.UniformInt(0, static_cast<int>(target_ids.size()) - 1)]];
      ok = placer.PlaceTouching(&rng, {nb.x, nb.y, nb.radius}, r, 0.05 * r, 0, off_carbon(r), &d);
    }
    if (!ok) ok = placer.PlaceRandom(&rng, r, 0, off_carbon(r), &d);
    if (!ok) {
      ++out.skipped;
      continue;
    }
    target_ids.push_back(static_cast<int>(out.objects.size()));
    out.objects.push_back({ObjectKind::kTarget, d.x, d.y, r, map, RandomOrientation(&rng)});
  }
  if (setup.hard_negative)
    for (int i = 0; i < setup.hard_negatives_per_micrograph; ++i) {
      const double r = setup.hard_negative->radius_px;
      if (placer.PlaceRandom(&rng, r, 0, off_carbon(r), &d))
        out.objects.push_back({ObjectKind::kHardNegative, d.x, d.y, r, 0, RandomOrientation(&rng)});
      else
        ++out.skipped;
    }

  // Phase signal: every object's projected density, then the CTF on the whole micrograph.
  Image canvas(nx, ny, 1, 0.0f);
  Rng texture(opt.seed, StreamId("sim-mic-texture", index));
  for (auto& o : out.objects) {
    switch (o.kind) {
      case ObjectKind::kTarget:
        PasteProjection(setup.targets[o.map], o.e, o.x, o.y, pixel, &canvas);
        break;
      case ObjectKind::kHardNegative:
        PasteProjection(*setup.hard_negative, o.e, o.x, o.y, pixel, &canvas);
        break;
      case ObjectKind::kIceBlob:
        AddSphere(&canvas, o.x, o.y, o.radius, 0.5 * peak);
        break;
      case ObjectKind::kAggregate: {
        const int blobs = texture.UniformInt(8, 20);
        for (int b = 0; b < blobs; ++b) {
          const double a = texture.Uniform(0, 2 * M_PI), rr = 0.7 * o.radius * std::sqrt(texture.Uniform());
          AddGaussian(&canvas, o.x + rr * std::cos(a), o.y + rr * std::sin(a), texture.Uniform(0.15, 0.3) * max_r,
                      texture.Uniform(0.3, 0.8) * peak);
        }
        break;
      }
      case ObjectKind::kCarbonEdge:
        break;
    }
  }
  if (carbon.present)
    for (int y = 0; y < ny; ++y)
      for (int x = 0; x < nx; ++x) {
        const double w = SmoothStep(carbon.Depth(x, y) / 4 + 0.5);
        if (w > 0) canvas(x, y) += static_cast<float>(w * peak * (0.3 + 0.15 * texture.Normal()));
      }
  FourierGrid f = Fft(canvas, fft_threads);
  const Ctf ctf(out.ctf);
  // The detector's pixel aperture: MTF = sinc(pi f / 2) per axis (f = 1 at Nyquist), raised to
  // opt.mtf; it filters signal and noise alike.
  auto mtf_axis = [&](int n) {
    std::vector<float> m(n, 1.0f);
    for (int i = 0; i < n; ++i) {
      const double t = M_PI * FourierGrid::Freq(i, n) / double(n);  // pi f / 2
      if (t != 0 && opt.mtf > 0) m[i] = static_cast<float>(std::pow(std::fabs(std::sin(t) / t), opt.mtf));
    }
    return m;
  };
  const std::vector<float> mtf_x = mtf_axis(nx), mtf_y = mtf_axis(ny);
  for (int y = 0; y < ny; ++y) {
    const double ky = FourierGrid::Freq(y, ny) / (ny * pixel);
    for (int x = 0; x < f.half_nx(); ++x)
      f.grid()(x, y) *= static_cast<float>(ctf.Value(x / (nx * pixel), ky)) * mtf_x[x] * mtf_y[y];
  }
  Image& signal = canvas;
  InverseFft(f, &signal, fft_threads);

  // Noise level from the signal over the target discs.
  double s1 = 0, s2 = 0;
  std::size_t count = 0;
  {
    std::vector<unsigned char> mask(static_cast<std::size_t>(nx) * ny, 0);
    for (const auto& o : out.objects)
      if (o.kind == ObjectKind::kTarget)
        ForDisc(signal, o.x, o.y, o.radius,
                [&](int u, int v, double) { mask[static_cast<std::size_t>(v) * nx + u] = 1; });
    for (std::size_t i = 0; i < mask.size(); ++i)
      if (mask[i]) {
        s1 += signal[i];
        s2 += double(signal[i]) * signal[i];
        ++count;
      }
  }
  if (count == 0) throw InvalidInputError("micrograph " + std::to_string(index + 1) + ": no particle could be placed");
  const double var_signal = std::max(0.0, s2 / count - (s1 / count) * (s1 / count));
  if (!(var_signal > 0))
    throw InvalidInputError("micrograph " + std::to_string(index + 1) + ": the particles carry no signal");
  const double sigma = std::sqrt(var_signal / opt.snr);

  // Coloured noise: white Gaussian shaped by S(k) = (1 - c) + c L(k) / mean(L), L a Lorentzian
  // of half-width 1/100 Å^-1 (ice thickness and structural noise), times the MTF, then scaled
  // to exactly sigma. A fraction opt.ice_ctf of its power passes the CTF: S(k) (1 - f + 2 f CTF^2)
  // (CTF^2 averages 1/2 over rings).
  Image noise(nx, ny, 1);
  {
    Rng nrng(opt.seed, StreamId("sim-mic-noise", index));
    for (auto& v : noise) v = static_cast<float>(nrng.Normal());
    if (opt.noise_colour > 0 || opt.mtf > 0 || opt.ice_ctf > 0) {
      FourierGrid nf = Fft(noise, fft_threads);
      const double k0 = 1.0 / 100;
      double lsum = 0;
      std::vector<float> lor(nf.size());
      for (int y = 0; y < ny; ++y) {
        const double ky = FourierGrid::Freq(y, ny) / (ny * pixel);
        for (int x = 0; x < nf.half_nx(); ++x) {
          const double kx = x / (nx * pixel), k2 = (kx * kx + ky * ky) / (k0 * k0);
          lor[static_cast<std::size_t>(y) * nf.half_nx() + x] = static_cast<float>(1 / (1 + k2));
          lsum += 1 / (1 + k2);
        }
      }
      const double lmean = lsum / lor.size(), c = opt.noise_colour, f = opt.ice_ctf;
      for (int y = 0; y < ny; ++y) {
        const double ky = FourierGrid::Freq(y, ny) / (ny * pixel);
        for (int x = 0; x < nf.half_nx(); ++x) {
          const std::size_t i = static_cast<std::size_t>(y) * nf.half_nx() + x;
          const double ice = f > 0 ? (1 - f) + 2 * f * std::pow(ctf.Value(x / (nx * pixel), ky), 2) : 1.0;
          nf.data()[i] *= static_cast<float>(std::sqrt(((1 - c) + c * lor[i] / lmean) * ice)) * mtf_x[x] * mtf_y[y];
        }
      }
      InverseFft(nf, &noise, fft_threads);
    }
    const Stats ns = ComputeStats(noise);
    const float scale = static_cast<float>(sigma / ns.stddev);
    for (auto& v : noise) v = (v - static_cast<float>(ns.mean)) * scale;
  }

  // Amplitude contrast of thick objects and the ice gradient, both in units of sigma.
  Image amplitude(nx, ny, 1, 0.0f);
  for (const auto& o : out.objects)
    if (o.kind == ObjectKind::kIceBlob) AddSphere(&amplitude, o.x, o.y, o.radius, 3 * sigma);
  const double ga = rng.Uniform(0, 2 * M_PI);
  double wave_phase[3], wave_dir[3];
  for (int k = 0; k < 3; ++k) {
    wave_phase[k] = rng.Uniform(0, 2 * M_PI);
    wave_dir[k] = rng.Uniform(0, 2 * M_PI);
  }
  // Thickness t(u, v) = ramp + three slow plane waves; cos(a(u) + b(v)) is expanded so the
  // per-pixel work has no trigonometry.
  const double diag = std::sqrt(double(nx) * nx + double(ny) * ny);
  std::vector<double> cu[3], su[3], cv[3], sv[3];
  for (int k = 0; k < 3; ++k) {
    cu[k].resize(nx), su[k].resize(nx), cv[k].resize(ny), sv[k].resize(ny);
    for (int x = 0; x < nx; ++x) {
      const double a = 2 * M_PI * (k + 1) * (x - nx / 2.0) / diag * 2 * std::cos(wave_dir[k]) + wave_phase[k];
      cu[k][x] = std::cos(a), su[k][x] = std::sin(a);
    }
    for (int y = 0; y < ny; ++y) {
      const double b = 2 * M_PI * (k + 1) * (y - ny / 2.0) / diag * 2 * std::sin(wave_dir[k]);
      cv[k][y] = std::cos(b), sv[k][y] = std::sin(b);
    }
  }
  const double cg = std::cos(ga), sg = std::sin(ga);
  for (int y = 0; y < ny; ++y)
    for (int x = 0; x < nx; ++x) {
      const double u = (x - nx / 2.0) / diag * 2, v = (y - ny / 2.0) / diag * 2;
      double t = u * cg + v * sg;
      for (int k = 0; k < 3; ++k) t += 0.15 * (cu[k][x] * cv[k][y] - su[k][x] * sv[k][y]);
      double a = amplitude(x, y) + opt.ice_gradient * sigma * t;
      if (carbon.present) a += sigma * SmoothStep(carbon.Depth(x, y) / 4 + 0.5);
      amplitude(x, y) = static_cast<float>(a);
    }

  // Raw micrographs show protein (and anything thick) dark: sign -1; "white" is inverted.
  const float sign = opt.contrast == "dark" ? -1.0f : 1.0f;
  mic->Resize(nx, ny, 1);
  for (std::size_t i = 0; i < mic->size(); ++i) (*mic)[i] = sign * (signal[i] + amplitude[i]) + noise[i];
  if (noiseless) {
    noiseless->Resize(nx, ny, 1);
    for (std::size_t i = 0; i < mic->size(); ++i) (*noiseless)[i] = sign * signal[i];
  }
  out.noise_sigma = sigma;
  out.measured_snr = var_signal / (sigma * sigma);
  return out;
}

}  // namespace emkit
