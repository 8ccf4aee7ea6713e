// Particle extraction as relion_preprocess --extract does it: boxes around coordinates,
// optional Fourier rescale, contrast inversion, background normalisation (mean 0, std 1
// outside a circle, ramp removed), particles whose box leaves the micrograph skipped and
// counted. Streams: one micrograph in memory at a time, stacks written as they are made.
#pragma once

#include <string>
#include <vector>

#include "core/image.h"
#include "io/coordinates.h"
#include "io/particles.h"

namespace emkit {

struct ExtractOptions {
  int box = 0;      // px of the micrograph
  int rescale = 0;  // output box (px); 0 = box
  bool invert_contrast = false;
  bool normalise = true;
  double bg_radius = 0;  // px of the output box; 0 = 75% of half the output box (RELION)
  int threads = 1;
  void Check() const;
  int OutputBox() const { return rescale > 0 ? rescale : box; }
  double BackgroundRadius() const { return bg_radius > 0 ? bg_radius : 0.75 * OutputBox() / 2; }
};

// Fits a plane to the pixels outside `radius` (around n/2), subtracts it from the image, then
// scales to mean 0 and std 1 over those pixels (relion_preprocess --norm with ramp removal).
void NormaliseBackground(Image* img, double radius);

// One particle: the box around (x, y) (rounded to the nearest pixel, centre at box/2),
// rescaled, inverted and normalised as asked. False when the box leaves the micrograph.
bool ExtractParticle(const Image& micrograph, double x, double y, const ExtractOptions& opt, Image* out);

struct ExtractSummary {
  int micrographs = 0, micrographs_without_coordinates = 0;
  int particles = 0, skipped_at_edge = 0;
  double output_pixel_size = 0;
};

// Extracts every micrograph of `micrographs` (a micrographs STAR) with coordinates in
// `coordinates` (folder of per-micrograph files or a combined STAR; original micrograph
// pixels) into <out>/Particles/<micrograph>.mrcs and <out>/particles.star (RELION 3.1).
ExtractSummary ExtractParticles(const std::string& micrographs_star, const std::string& coordinates,
                                const CoordinateIoOptions& coordinate_io, const std::string& out,
                                const ExtractOptions& opt);
// The same for micrographs already listed (a micrographs STAR read, or files listed by
// picker/pick.h MicrographSetOf); `source` names them in messages, and relative names not found
// from the working folder are looked up beside it (the STAR's folder).
ExtractSummary ExtractParticles(const MicrographSet& micrographs, const std::string& source,
                                const std::string& coordinates, const CoordinateIoOptions& coordinate_io,
                                const std::string& out, const ExtractOptions& opt);

}  // namespace emkit
