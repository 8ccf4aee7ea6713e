// 8-bit grey PNG pictures (class montages, simulated-data previews) through libpng: no
// OpenCV, so the light emkit commands (class2d, simulate) can write them.
#pragma once

#include <string>
#include <vector>

#include "core/image.h"

namespace emkit {

// Writes an image as 8-bit PNG scaled between the given percentiles, atomically.
void WritePng(const std::string& path, const Image& img, double low_percentile = 0.5, double high_percentile = 99.5);
// A map at a glance: its central sections (xy, xz, yz) over its projections along z, y and x,
// each tile normalised on its own and enlarged to at least 160 px, written atomically.
void WriteMapPicture(const std::string& path, const Image& map);
// Tiles side by side, `per_row` per row, each normalised on its own (mean +- 3 standard
// deviations) and enlarged by a whole factor to at least `min_tile` px, with its caption under it
// in white on black (a 5 x 7 pixel font at twice its size: digits, A-Z, a-z drawn as capitals,
// and . , % # - + / : ( ) and space; '\n' starts a new line), written atomically.
void WriteLabelledMontage(const std::string& path, const std::vector<Image>& tiles,
                          const std::vector<std::string>& captions, int per_row, int min_tile = 160);
// Converts to 8-bit grey with the same scaling (row-major, img.nx() x img.ny()).
std::vector<unsigned char> ToGrey8(const Image& img, double low_percentile, double high_percentile);

}  // namespace emkit
