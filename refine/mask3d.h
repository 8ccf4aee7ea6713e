// Soft masks for 3D maps as relion_mask_create makes them (RELION 3.1 src/mask.cpp autoMask):
// threshold the map into a binary mask, extend (or shrink) it by a distance, then add a
// raised-cosine edge. Distances are Euclidean, in pixels, computed with an exact distance
// transform (the same sets as RELION's cube searches, in linear time).
#pragma once

#include <cstdint>
#include <vector>

#include "core/image.h"

namespace emkit {

struct AutoMaskOptions {
  double threshold = 0.02;  // voxels >= threshold seed the mask (the map's units)
  double extend_px = 3;     // add voxels closer than this to the seed (negative: shrink), px
  double soft_edge_px = 6;  // raised-cosine edge width beyond the extended mask, px
  double lowpass_A = 0;     // low-pass the map at this resolution (Å) before thresholding; 0: no
  double pixel_size = 0;    // Å, needed for lowpass_A only
  int threads = 1;
  void Check() const;  // throws InvalidInputError naming the field
};

// The mask (values in [0, 1]) for a 3D map; throws InvalidInputError when no voxel reaches
// the threshold.
Volume MakeAutoMask(const Volume& map, const AutoMaskOptions& options);

// Squared Euclidean distance (px²) from each voxel to the nearest voxel with inside != 0
// (about 1e20 when there is none). Exact (Felzenszwalb & Huttenlocher's separable transform).
std::vector<float> SquaredDistanceTransform(const Grid<uint8_t>& inside, int threads = 1);

// A sphere of radius `radius_px` about the box centre (n/2) with a raised-cosine edge of
// `edge_px` outside it: 1 inside, 0.5 + 0.5 cos(pi d / edge) at distance d beyond the radius.
Volume SoftSphereMask(int box, double radius_px, double edge_px);

// Fraction of voxels above 0.5 and the sum of the mask (its volume in voxels).
struct MaskStats {
  double fraction_above_half = 0, sum = 0, min = 0, max = 0;
};
MaskStats ComputeMaskStats(const Volume& mask);

}  // namespace emkit
