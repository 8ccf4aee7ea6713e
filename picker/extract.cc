#include "picker/extract.h"

#include <cmath>
#include <map>

#include "core/error.h"
#include "core/files.h"
#include "core/filters.h"
#include "core/log.h"
#include "core/parallel.h"
#include "io/micrograph.h"
#include "io/mrc.h"
#include "picker/pick.h"

namespace emkit {

void ExtractOptions::Check() const {
  auto bad = [](const std::string& field, const std::string& why) {
    throw InvalidInputError("extract option " + field + ": " + why);
  };
  if (box < 8 || box % 2) bad("box", "must be an even number of pixels >= 8");
  if (rescale < 0 || rescale % 2 || (rescale > 0 && rescale < 8)) bad("rescale", "must be 0 or an even size >= 8");
  if (bg_radius < 0) bad("bg_radius", "must be >= 0");
  if (normalise && BackgroundRadius() >= OutputBox() / 2.0 * std::sqrt(2.0) - 1)
    bad("bg_radius", "leaves no background pixels in the box");
  if (threads < 1) bad("threads", "must be >= 1");
}

void NormaliseBackground(Image* img, double radius) {
  const int nx = img->nx(), ny = img->ny();
  const double cx = nx / 2, cy = ny / 2, r2 = radius * radius;
  // Least squares plane v = a + b x + c y over the background (normal equations, 3x3).
  double s[3][3] = {}, t[3] = {};
  for (int y = 0; y < ny; ++y)
    for (int x = 0; x < nx; ++x) {
      const double dx = x - cx, dy = y - cy;
      if (dx * dx + dy * dy <= r2) continue;
      const double f[3] = {1, dx, dy}, v = (*img)(x, y);
      for (int i = 0; i < 3; ++i) {
        t[i] += f[i] * v;
        for (int j = 0; j < 3; ++j) s[i][j] += f[i] * f[j];
      }
    }
  if (s[0][0] < 3)
    throw InvalidInputError("background normalisation: radius " + std::to_string(radius) +
                            " leaves fewer than 3 background pixels");
  // Cramer's rule.
  auto det3 = [](double m[3][3]) {
    return m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
           m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
  };
  const double d = det3(s);
  double coef[3] = {t[0] / s[0][0], 0, 0};
  if (std::fabs(d) > 1e-12) {
    for (int k = 0; k < 3; ++k) {
      double m[3][3];
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) m[i][j] = j == k ? t[i] : s[i][j];
      coef[k] = det3(m) / d;
    }
  }
  for (int y = 0; y < ny; ++y)
    for (int x = 0; x < nx; ++x) (*img)(x, y) -= static_cast<float>(coef[0] + coef[1] * (x - cx) + coef[2] * (y - cy));
  Normalise(img, radius);
}

bool ExtractParticle(const Image& mic, double x, double y, const ExtractOptions& opt, Image* out) {
  const int b = opt.box;
  const int x0 = static_cast<int>(std::lround(x)) - b / 2, y0 = static_cast<int>(std::lround(y)) - b / 2;
  if (x0 < 0 || y0 < 0 || x0 + b > mic.nx() || y0 + b > mic.ny()) return false;
  Image p(b, b);
  for (int j = 0; j < b; ++j)
    for (int i = 0; i < b; ++i) p(i, j) = mic(x0 + i, y0 + j);
  if (opt.rescale > 0 && opt.rescale != b) p = FourierResize(p, opt.rescale, opt.rescale);
  if (opt.invert_contrast)
    for (auto& v : p) v = -v;
  if (opt.normalise) NormaliseBackground(&p, opt.BackgroundRadius());
  *out = std::move(p);
  return true;
}

ExtractSummary ExtractParticles(const std::string& micrographs_star, const std::string& coordinates,
                                const CoordinateIoOptions& coordinate_io, const std::string& out,
                                const ExtractOptions& opt) {
  opt.Check();
  return ExtractParticles(ReadMicrographs(micrographs_star), micrographs_star, coordinates, coordinate_io, out, opt);
}

ExtractSummary ExtractParticles(const MicrographSet& mics, const std::string& micrographs_star,
                                const std::string& coordinates, const CoordinateIoOptions& coordinate_io,
                                const std::string& out, const ExtractOptions& opt) {
  opt.Check();
  const CoordinateCollection coords = ReadCoordinateCollection(coordinates, coordinate_io);
  ExtractSummary summary;
  ParticleSet set;
  for (const auto& g : mics.optics) {
    OpticsGroup o = g;
    o.original_pixel_size = g.original_pixel_size > 0 ? g.original_pixel_size : g.pixel_size;
    o.pixel_size = g.pixel_size * opt.box / opt.OutputBox();
    o.image_size = opt.OutputBox();
    o.image_dimensionality = 2;
    set.optics.push_back(o);
  }
  // Up front, before any extraction: every micrograph's file and pixel size, which coordinates
  // belong to it (one entry never serves two micrographs), and stack names that do not clash.
  std::vector<std::string> paths, names;
  std::vector<int> entry;
  std::map<int, std::size_t> micrograph_of_entry;
  for (std::size_t i = 0; i < mics.micrographs.size(); ++i) {
    const MicrographEntry& m = mics.micrographs[i];
    const std::string path = ResolveBesideStar(m.name, ParentDir(micrographs_star));
    if (!FileExists(path))
      throw IoError(m.where + ": micrograph " + m.name + " not found (nor beside " + micrographs_star + ")");
    if (!(mics.Optics(m.optics_group).pixel_size > 0))
      throw InvalidInputError(micrographs_star + ": no pixel size for " + m.name +
                              " (no data_optics block with rlnMicrographPixelSize, and no MRC header with one)");
    paths.push_back(path);
    names.push_back(m.name);
    entry.push_back(coords.FindIndex(m.name));
    if (entry.back() < 0) continue;
    const auto [it, fresh] = micrograph_of_entry.emplace(entry.back(), i);
    if (!fresh)
      throw InvalidInputError(coordinates + ": coordinates '" + coords.keys[entry.back()] + "' match both " +
                              mics.micrographs[it->second].name + " (" + mics.micrographs[it->second].where + ") and " +
                              m.name + " (" + m.where +
                              "); keep the micrographs' folders in the "
                              "coordinate names (emkit pick does so when base names clash)");
  }
  const std::vector<std::string> stems = MicrographOutputKeys(names);
  for (const auto& m : mics.micrographs)
    if (!m.has_ctf) {
      set.has_ctf = false;  // no placeholder: CTF-correcting steps refuse particles without CTF
      LOG_WARN(micrographs_star << ": no CTF (no rlnDefocusU/V), so particles.star gets none: for class2d with "
                                   "CTF correction, run `emkit ctf` on the micrographs and extract from its "
                                   "micrographs.star (or run class2d with --no-ctf)");
      break;
    }
  CreateDirectories(JoinPath(out, "Particles"));
  ProgressOptions progress_options;
  progress_options.unit = "micrographs";
  Progress progress("extract", mics.micrographs.size(), progress_options);
  for (std::size_t mi = 0; mi < mics.micrographs.size(); ++mi) {
    const MicrographEntry& m = mics.micrographs[mi];
    ++summary.micrographs;
    const std::vector<Coordinate>* c = entry[mi] < 0 ? nullptr : &coords.coords[entry[mi]];
    if (!c || c->empty()) {
      ++summary.micrographs_without_coordinates;
      progress.Advance();
      continue;
    }
    const Image mic = ReadMicrograph(paths[mi]);
    std::vector<Image> boxes(c->size());
    std::vector<char> ok(c->size(), 0);
    ParallelFor(opt.threads, c->size(),
                [&](std::size_t i, int) { ok[i] = ExtractParticle(mic, (*c)[i].x, (*c)[i].y, opt, &boxes[i]); });
    const OpticsGroup& g = set.Optics(m.optics_group);
    const std::string stack = JoinPath(JoinPath(out, "Particles"), stems[mi] + ".mrcs");
    CreateDirectories(ParentDir(stack));
    MrcWriteOptions wo;
    wo.pixel_size = g.pixel_size;
    wo.kind = MrcKind::kStack;
    int written = 0;
    std::unique_ptr<MrcStackWriter> writer;
    for (std::size_t i = 0; i < c->size(); ++i) {
      if (!ok[i]) {
        ++summary.skipped_at_edge;
        continue;
      }
      if (!writer) writer = std::make_unique<MrcStackWriter>(stack, opt.OutputBox(), opt.OutputBox(), wo);
      writer->Append(boxes[i]);
      Particle p;
      p.image_name = MakeImageName(written++, stack);
      p.micrograph_name = m.name;
      p.x = (*c)[i].x;
      p.y = (*c)[i].y;
      p.optics_group = m.optics_group;
      p.ctf = m.ctf;
      p.fom = (*c)[i].fom;
      set.particles.push_back(p);
    }
    if (writer) writer->Close();
    summary.particles += written;
    progress.Advance();
  }
  progress.Finish();
  if (summary.skipped_at_edge)
    LOG_WARN(summary.skipped_at_edge << " particle(s) too close to a micrograph edge for a " << opt.box
                                     << " px box were skipped");
  WriteParticles(JoinPath(out, "particles.star"), set, false);
  summary.output_pixel_size = set.optics.empty() ? 0 : set.optics.front().pixel_size;
  return summary;
}

}  // namespace emkit
