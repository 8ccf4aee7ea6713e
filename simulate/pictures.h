// Pictures of simulated data for reports: a micrograph with its truth drawn in, a montage
// of particles. PNG through io/png.h (grey, percentile-scaled).
#pragma once

#include <string>
#include <vector>

#include "core/image.h"
#include "simulate/compose.h"

namespace emkit {

// Low-passed (Gaussian, sigma 1.5 output px), binned to at most `max_size` px, with white
// circles around targets and black ones around hard negatives and decoys.
void WriteTruthPicture(const std::string& path, const Image& mic, const std::vector<PlacedObject>& objects,
                       int max_size = 1024);

// Tiles (each normalised to zero mean, unit deviation) in rows of `per_row`, 2 px gaps.
void WriteMontage(const std::string& path, const std::vector<Image>& tiles, int per_row);

}  // namespace emkit
