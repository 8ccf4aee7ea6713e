#include "simulate/phantom.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "core/error.h"
#include "core/log.h"
#include "core/random.h"
#include "io/mrc.h"

namespace emkit {
namespace {

struct Blob {
  double x, y, z;  // units of the radius R = diameter / 2
  double sigma;    // units of R
  double amplitude;
};

// Uniform points in an ellipsoid (units of R), from a fixed stream.
void FillEllipsoid(Rng* rng, std::array<double, 3> c, std::array<double, 3> axes, int count, double sigma,
                   std::vector<Blob>* out) {
  for (int i = 0; i < count;) {
    const double u = rng->Uniform(-1, 1), v = rng->Uniform(-1, 1), w = rng->Uniform(-1, 1);
    if (u * u + v * v + w * w > 1) continue;
    out->push_back({c[0] + u * axes[0], c[1] + v * axes[1], c[2] + w * axes[2], sigma * rng->Uniform(0.8, 1.25),
                    rng->Uniform(0.7, 1.0)});
    ++i;
  }
}

std::vector<Blob> PhantomBlobs(const std::string& name) {
  std::vector<Blob> blobs;
  Rng rng(20261126, StreamId(name == "asym-broken" ? "asym" : name.c_str(), 0));
  if (name == "gaussian") {
    blobs.push_back({0, 0, 0, 1.0 / 3.0, 1.0});  // sigma = diameter / 6
  } else if (name == "asym" || name == "asym-broken") {
    FillEllipsoid(&rng, {-0.15, -0.05, 0.0}, {0.55, 0.42, 0.38}, 170, 0.085, &blobs);  // body
    FillEllipsoid(&rng, {-0.55, 0.38, -0.35}, {0.16, 0.14, 0.14}, 14, 0.07, &blobs);   // knob
    if (name == "asym") {
      FillEllipsoid(&rng, {0.42, 0.3, 0.12}, {0.3, 0.26, 0.24}, 60, 0.08, &blobs);  // head
      // A curved arm climbing out of the body: right-handed helix turn (chirality).
      for (int i = 0; i < 16; ++i) {
        const double t = i / 15.0;
        const double ang = 1.6 * M_PI * t;
        blobs.push_back({0.15 + 0.6 * t, -0.35 - 0.25 * std::sin(ang) * (1 - 0.4 * t),
                         0.1 + 0.3 * t + 0.15 * std::cos(ang), 0.07, 0.9});
      }
    }
  } else if (name == "rod") {
    // Two strands twisting about x: a filament piece, 0.9 R long each way.
    for (int strand = 0; strand < 2; ++strand)
      for (int i = 0; i < 40; ++i) {
        const double t = -0.9 + 1.8 * i / 39.0;
        const double ang = 2.2 * M_PI * t + strand * M_PI;
        blobs.push_back({t, 0.16 * std::cos(ang), 0.16 * std::sin(ang), 0.09, 1.0});
      }
  } else {
    throw InvalidInputError("unknown phantom '" + name + "' (asym, asym-broken, rod, gaussian)");
  }
  return blobs;
}

}  // namespace

const std::vector<std::string>& PhantomNames() {
  static const std::vector<std::string> names = {"asym", "asym-broken", "rod", "gaussian"};
  return names;
}

bool IsPhantomName(const std::string& name) {
  const auto& n = PhantomNames();
  return std::find(n.begin(), n.end(), name) != n.end();
}

Volume MakePhantom(const std::string& name, int box, double pixel_size, double diameter) {
  if (box < 4) throw InvalidInputError("phantom box must be >= 4, got " + std::to_string(box));
  if (!(pixel_size > 0) || !(diameter > 0)) throw InvalidInputError("phantom pixel size and diameter must be > 0");
  const std::vector<Blob> blobs = PhantomBlobs(name);
  // The asym blobs span about 0.8 R; stretch them so the density fills the stated diameter.
  const double stretch = name == "asym" || name == "asym-broken" ? 1.2 : 1.0;
  const double r_px = diameter / 2 / pixel_size * stretch;  // radius in pixels
  const double c = box / 2;
  // Sum in double, then convert once.
  std::vector<double> acc(static_cast<std::size_t>(box) * box * box, 0.0);
  for (const Blob& b : blobs) {
    const double bx = c + b.x * r_px, by = c + b.y * r_px, bz = c + b.z * r_px, s = b.sigma * r_px / stretch;
    const double inv = 1.0 / (2 * s * s);
    const int reach = static_cast<int>(std::ceil(4 * s));
    const int x0 = std::max(0, int(std::floor(bx)) - reach), x1 = std::min(box - 1, int(std::ceil(bx)) + reach);
    const int y0 = std::max(0, int(std::floor(by)) - reach), y1 = std::min(box - 1, int(std::ceil(by)) + reach);
    const int z0 = std::max(0, int(std::floor(bz)) - reach), z1 = std::min(box - 1, int(std::ceil(bz)) + reach);
    for (int z = z0; z <= z1; ++z)
      for (int y = y0; y <= y1; ++y)
        for (int x = x0; x <= x1; ++x) {
          const double d2 = (x - bx) * (x - bx) + (y - by) * (y - by) + (z - bz) * (z - bz);
          acc[(static_cast<std::size_t>(z) * box + y) * box + x] += b.amplitude * std::exp(-d2 * inv);
        }
  }
  // Overlapping domains saturate like real protein density does.
  Volume v(box, box, box);
  for (std::size_t i = 0; i < acc.size(); ++i)
    v[i] = static_cast<float>(name == "gaussian" ? acc[i] : std::tanh(acc[i]));
  return v;
}

Volume BrokenVersion(const Volume& map, double pixel_size, double diameter) {
  Volume out = map;
  const double r = 0.3 * diameter / pixel_size, edge = 0.08 * diameter / pixel_size;
  const double c = map.nx() / 2;
  const double d = 0.3 * diameter / pixel_size / std::sqrt(3.0);
  const double cx = c + d, cy = c + d, cz = c - d;
  for (int z = 0; z < map.nz(); ++z)
    for (int y = 0; y < map.ny(); ++y)
      for (int x = 0; x < map.nx(); ++x) {
        const double dist = std::sqrt((x - cx) * (x - cx) + (y - cy) * (y - cy) + (z - cz) * (z - cz));
        double keep = 0;
        if (dist >= r + edge)
          keep = 1;
        else if (dist > r)
          keep = 0.5 * (1 - std::cos(M_PI * (dist - r) / edge));
        out(x, y, z) *= static_cast<float>(keep);
      }
  return out;
}

double EstimateDiameter(const Volume& map, double pixel_size) {
  float vmax = 0;
  for (float v : map) vmax = std::max(vmax, v);
  if (vmax <= 0) throw InvalidInputError("map has no positive density: cannot estimate its diameter");
  const double c = map.nx() / 2;
  std::vector<double> dist;
  for (int z = 0; z < map.nz(); ++z)
    for (int y = 0; y < map.ny(); ++y)
      for (int x = 0; x < map.nx(); ++x)
        if (map(x, y, z) > 0.05f * vmax)
          dist.push_back(std::sqrt((x - c) * (x - c) + (y - c) * (y - c) + (z - c) * (z - c)));
  std::sort(dist.begin(), dist.end());
  const double r = dist[static_cast<std::size_t>(0.99 * (dist.size() - 1))];
  return 2 * (r + 1) * pixel_size;
}

SimMap LoadSimMap(const std::string& path, double pixel_size, bool allow_rescale) {
  MrcHeader h = ReadMrcHeader(path);
  if (h.nx != h.ny || h.nx != h.nz)
    throw InvalidInputError(path + ": the map is not cubic (" + std::to_string(h.nx) + "x" + std::to_string(h.ny) +
                            "x" + std::to_string(h.nz) + "); resize it to a cube first");
  if (h.nx < 8) throw InvalidInputError(path + ": map of " + std::to_string(h.nx) + " voxels is too small");
  const double header_pixel = h.PixelSize();
  SimMap m;
  m.name = path;
  if (header_pixel <= 0) {
    if (!(pixel_size > 0))
      throw InvalidInputError(path + ": the header has no pixel size (cella = 0): give --pixel-size");
    m.pixel_size = pixel_size;
  } else {
    m.pixel_size = header_pixel;
    if (pixel_size > 0 && std::fabs(pixel_size - header_pixel) > 1e-3 * header_pixel && !allow_rescale)
      throw InvalidInputError(path + ": --pixel-size " + std::to_string(pixel_size) +
                              " Å does not match the map header's " + std::to_string(header_pixel) +
                              " Å (add --rescale to resample the map)");
  }
  m.volume = ReadMrcFinite(path, "map", &h);
  m.diameter = EstimateDiameter(m.volume, m.pixel_size);
  return m;
}

SimMap MakeSimPhantom(const std::string& name, double pixel_size, double diameter) {
  if (!IsPhantomName(name))
    throw InvalidInputError("unknown phantom '" + name + "' (asym, asym-broken, rod, gaussian)");
  if (!(pixel_size > 0)) throw InvalidInputError("phantom: pixel size must be > 0");
  if (!(diameter > 0)) throw InvalidInputError("phantom: diameter must be > 0");
  int box = static_cast<int>(std::ceil(1.25 * diameter / pixel_size));
  box += box % 2;
  if (box > 1024)
    throw InvalidInputError("phantom: a " + std::to_string(box) + "^3 box is too large; raise the pixel size");
  SimMap m;
  m.name = "phantom:" + name;
  m.pixel_size = pixel_size;
  m.volume = MakePhantom(name, std::max(box, 8), pixel_size, diameter);
  m.diameter = diameter;
  return m;
}

}  // namespace emkit
