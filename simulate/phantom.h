// Built-in procedural phantoms (so a simulation needs nothing external) and the maps a
// simulation projects: loading with the checks every simulate command shares.
#pragma once

#include <string>
#include <vector>

#include "core/image.h"

namespace emkit {

// "asym": an asymmetric, chiral protein-like complex (body, head, curved arm, knob) made of
//   a few hundred Gaussian "domains"; no symmetry, so handedness errors show.
// "asym-broken": the same without head and arm (a damaged particle: a hard negative).
// "rod": a twisted two-strand filament piece of the same length (a second species).
// "gaussian": one isotropic Gaussian of sigma = diameter / 6 (analytic projections, tests).
const std::vector<std::string>& PhantomNames();
bool IsPhantomName(const std::string& name);

// Rasterises a phantom whose longest extent is about `diameter` Å, centred at (n/2, n/2, n/2)
// of a box^3 volume of the given pixel size. Deterministic (no seed involved). Densities are
// positive (protein brighter than the zero-valued solvent), peak ~1.
Volume MakePhantom(const std::string& name, int box, double pixel_size, double diameter);

// A damaged copy of a map: density inside a soft sphere of 0.3 * diameter, centred off the
// centre along a fixed direction at 0.3 * diameter, removed.
Volume BrokenVersion(const Volume& map, double pixel_size, double diameter);

// Diameter (Å) of the density: twice the 99th percentile of the distance from the box centre
// of voxels above 5% of the maximum.
double EstimateDiameter(const Volume& map, double pixel_size);

// A map ready to project.
struct SimMap {
  std::string name;  // file path or "phantom:<name>"
  Volume volume;
  double pixel_size = 0;  // Å per voxel of `volume`
  double diameter = 0;    // Å, for placement and masks
};

// Reads an MRC map and checks it: a cube, a pixel size (from the header, or `pixel_size`
// when the header has none). When both exist and differ by more than 0.1%, throws
// InvalidInputError unless `allow_rescale` (the projector then resamples the map).
SimMap LoadSimMap(const std::string& path, double pixel_size, bool allow_rescale);

// A phantom sampled at `pixel_size` in a box 1.25x its diameter (even).
SimMap MakeSimPhantom(const std::string& name, double pixel_size, double diameter);

}  // namespace emkit
