#include "refine/particle_prep.h"

#include <cmath>

#include "core/error.h"
#include "core/fft.h"
#include "core/files.h"
#include "core/filters.h"
#include "core/geometry.h"
#include "core/parallel.h"

namespace emkit {

FourierPixels SelectPixels(int n, int current_size) {
  FourierPixels px;
  px.n = n;
  px.current_size = std::min(n, std::max(2, current_size - current_size % 2));
  const int r = px.current_size / 2;
  const int hx = n / 2 + 1;
  for (int y = 0; y < n; ++y) {
    const int ky = FourierGrid::Freq(y, n);
    for (int x = 0; x < hx; ++x) {
      const int r2 = x * x + ky * ky;
      if (r2 >= r * r) continue;
      px.index.push_back(y * hx + x);
      px.kx.push_back(x);
      px.ky.push_back(ky);
      px.shell.push_back(static_cast<int>(std::lround(std::sqrt(double(r2)))));
    }
  }
  return px;
}

ParticleReader::ParticleReader(const ParticleSet& set, const std::string& star_path) {
  if (set.particles.empty()) throw InvalidInputError(star_path + ": no particles");
  const std::string dir = ParentDir(star_path);
  std::map<std::string, int> stack_of;
  const std::size_t n = set.particles.size();
  stacks_.resize(n);
  sections_.resize(n);
  ctf_.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const Particle& p = set.particles[i];
    int index = 0;
    std::string path;
    ParseImageName(p.image_name, dir, &index, &path, star_path + " particle " + std::to_string(i + 1));
    auto it = stack_of.find(path);
    if (it == stack_of.end()) {
      it = stack_of.emplace(path, static_cast<int>(paths_.size())).first;
      paths_.push_back(path);
      headers_.push_back(ReadMrcHeader(path));
      const MrcHeader& h = headers_.back();
      if (h.nx != h.ny)
        throw InvalidInputError(path + ": particles must be square, got " + std::to_string(h.nx) + "x" +
                                std::to_string(h.ny));
      if (box_ == 0) box_ = h.nx;
      if (h.nx != box_)
        throw InvalidInputError(path + ": box " + std::to_string(h.nx) + " differs from " + std::to_string(box_));
    }
    stacks_[i] = it->second;
    sections_[i] = index;
    if (index < 0 || index >= headers_[it->second].nz)
      throw InvalidInputError(star_path + ": particle " + std::to_string(i + 1) + " refers to section " +
                              std::to_string(index + 1) + " of " + path + " which has " +
                              std::to_string(headers_[it->second].nz));
    ctf_[i] = p.ctf;
    const OpticsGroup& og = set.Optics(p.optics_group);
    ctf_[i].voltage_kv = og.voltage_kv;
    ctf_[i].cs_mm = og.cs_mm;
    ctf_[i].amplitude_contrast = og.amplitude_contrast;
    if (i == 0) pixel_size_ = og.pixel_size;
    if (og.image_size > 0 && og.image_size != headers_[it->second].nx)
      throw InvalidInputError(star_path + ": optics group " + std::to_string(og.number) + " has rlnImageSize " +
                              std::to_string(og.image_size) + " but " + path + " holds " +
                              std::to_string(headers_[it->second].nx) + " px images");
  }
  if (!(pixel_size_ > 0))
    throw InvalidInputError(star_path +
                            ": no pixel size: no data_optics block with rlnImagePixelSize, no "
                            "rlnDetectorPixelSize/rlnMagnification column, and the header of " +
                            paths_.front() + " has none (cella / mx)");
  if (box_ % 2) throw InvalidInputError(star_path + ": the particle box must be even, got " + std::to_string(box_));
  CheckFinite(set, star_path);
}

// One NaN/Inf pixel turns a particle's transform, and through the sums every class, into NaN:
// refuse before the first iteration, naming the particle (every rank reads the same images, so
// every rank stops with the same message).
void ParticleReader::CheckFinite(const ParticleSet& set, const std::string& star_path) const {
  const int n = count();
  std::vector<unsigned char> bad(n, 0);
  ParallelFor(GlobalThreads(), static_cast<std::size_t>(n),
              [&](std::size_t i, int) { bad[i] = CountNonFinite(Read(static_cast<int>(i))) > 0; });
  int first = -1, total = 0;
  for (int i = 0; i < n; ++i)
    if (bad[i]) total++, first = first < 0 ? i : first;
  if (first < 0) return;
  const StarTable* t = set.source.Find(set.particles_block);
  const std::string where = t && static_cast<std::size_t>(first) < t->num_rows()
                                ? t->Where(first)
                                : star_path + " particle " + std::to_string(first + 1);
  const Image img = Read(first);
  long pixel = -1;
  const std::size_t count = CountNonFinite(img, &pixel);
  throw InvalidInputError(where + ": particle " + set.particles[first].image_name + " has " + std::to_string(count) +
                          " NaN/Inf pixel(s) (first at x=" + std::to_string(pixel % img.nx()) +
                          " y=" + std::to_string(pixel / img.nx()) + ")" +
                          (total > 1 ? "; " + std::to_string(total - 1) + " more particle(s) have some" : "") +
                          "; remove them from the STAR file or re-extract");
}

Image ParticleReader::Read(int i) const {
  return ReadMrcSection(paths_[stacks_[i]], sections_[i], &headers_[stacks_[i]]);
}

std::vector<float> CtfAtPixels(const CtfParams& p, double pixel_size, const FourierPixels& px, const PrepOptions& opt) {
  std::vector<float> out(px.size(), 1.0f);
  if (!opt.ctf) return out;
  const Ctf ctf(p);
  const double inv = 1.0 / (px.n * pixel_size);
  // gamma as in core/ctf.cc, for RELION's --ctf_intact_first_peak (|gamma| < pi/2 -> 1).
  const double lambda = ElectronWavelength(p.voltage_kv * 1e3);
  const double k1 = M_PI * lambda, k2 = M_PI / 2.0 * p.cs_mm * 1e7 * lambda * lambda * lambda;
  const double k3 = std::atan(p.amplitude_contrast / std::sqrt(1.0 - p.amplitude_contrast * p.amplitude_contrast));
  const double k5 = p.phase_shift * M_PI / 180.0;
  const double def_avg = -(p.defocus_u + p.defocus_v) * 0.5, def_dev = -(p.defocus_u - p.defocus_v) * 0.5;
  const double azimuth = p.defocus_angle * M_PI / 180.0;
  for (int j = 0; j < px.size(); ++j) {
    const double fx = px.kx[j] * inv, fy = px.ky[j] * inv;
    double v = ctf.Value(fx, fy);
    if (opt.ctf_intact_first_peak) {
      const double u2 = fx * fx + fy * fy;
      const double deltaf = def_avg + def_dev * std::cos(2.0 * (std::atan2(fy, fx) - azimuth));
      const double gamma = k1 * deltaf * u2 + k2 * u2 * u2 - k5 - k3;
      if (std::fabs(gamma) < M_PI / 2) v = 1.0;
    }
    if (opt.only_flip_phases) v = v < 0 ? -1.0 : 1.0;
    out[j] = static_cast<float>(v);
  }
  return out;
}

void PrepareParticle(const Image& img, double offset_x_px, double offset_y_px, const CtfParams& ctf, double pixel_size,
                     const PrepOptions& opt, const FourierPixels& px, const std::vector<double>& sigma2, Rng* rng,
                     PreparedParticle* out, double intensity) {
  const int n = img.nx();
  Image centred = img;
  if (offset_x_px != 0 || offset_y_px != 0) {
    FourierGrid f = Fft(img);
    ShiftFourier(&f, offset_x_px, offset_y_px);
    centred = InverseFft(f);
  }
  if (intensity != 1)
    for (std::size_t j = 0; j < centred.size(); ++j) centred[j] = static_cast<float>(centred[j] * intensity);
  if (opt.mask_radius_px > 0) {
    if (opt.zero_mask || sigma2.empty()) {
      SoftMask m;
      m.radius_px = opt.mask_radius_px;
      m.edge_width_px = opt.mask_edge_px;
      m.background = 0;
      ApplySoftMask(&centred, m);
    } else {
      // Coloured noise with the current noise spectrum outside the mask, as RELION does.
      FourierGrid nf(n, n);
      for (int y = 0; y < n; ++y) {
        const int ky = FourierGrid::Freq(y, n);
        for (int x = 0; x <= n / 2; ++x) {
          const int s = static_cast<int>(std::lround(std::sqrt(double(x * x + ky * ky))));
          const double sd = s < static_cast<int>(sigma2.size()) ? std::sqrt(std::max(0.0, sigma2[s])) : 0.0;
          nf.grid()(x, y) = Complex(static_cast<float>(rng->Normal() * sd), static_cast<float>(rng->Normal() * sd));
        }
      }
      nf.grid()(0, 0) = Complex(0, 0);
      const Image noise = InverseFft(nf);
      const double c = n / 2;
      for (int y = 0; y < n; ++y)
        for (int x = 0; x < n; ++x) {
          const double w = SoftMaskWeight(std::hypot(x - c, y - c), opt.mask_radius_px, opt.mask_edge_px);
          centred(x, y) = static_cast<float>(w * centred(x, y) + (1 - w) * noise(x, y));
        }
    }
  }
  const FourierGrid f = CentredFft(centred);
  out->x.resize(px.size());
  const Complex* d = f.data();
  for (int j = 0; j < px.size(); ++j) out->x[j] = d[px.index[j]];
  out->ctf = CtfAtPixels(ctf, pixel_size, px, opt);
  out->highres_power = 0;
  if (opt.highres_power) {
    // RELION extends the norm correction's residual with the image power beyond the current size
    // (up to Nyquist, each Hermitian pair once).
    const int hx = n / 2 + 1, r = px.current_size / 2;
    double power = 0;
    for (int y = 0; y < n; ++y) {
      const int ky = FourierGrid::Freq(y, n);
      for (int x = 0; x < hx; ++x) {
        const int r2 = x * x + ky * ky;
        if (r2 < r * r || (x == 0 && ky < 0) || std::lround(std::sqrt(double(r2))) > n / 2) continue;
        power += std::norm(d[static_cast<std::size_t>(y) * hx + x]);
      }
    }
    out->highres_power = power;
  }
}

}  // namespace emkit
