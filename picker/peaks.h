// Peak finding on score maps (FOM, LoG response, CNN log-odds): local maxima above a
// threshold, greedy non-maximum suppression at a minimum distance, optional border and
// bad-region mask. CONTRACT shared by picker/ and the CNN picker.
#pragma once

#include <vector>

#include "core/image.h"
#include "io/coordinates.h"

namespace emkit {

struct PeakOptions {
  double threshold = 0;         // keep peaks with score >= threshold
  double min_distance = 10;     // pixels of the score map; no two peaks closer
  int border = 0;               // ignore peaks within this many pixels of the edge
  int max_peaks = 0;            // 0 = no limit; else the best max_peaks
  const Image* mask = nullptr;  // optional: pixels with mask == 0 are excluded
};

// Returns peaks sorted by decreasing score; x, y in score-map pixels, fom = score.
// Deterministic (ties broken by position).
std::vector<Coordinate> FindPeaks(const Image& score, const PeakOptions& opt);

// A threshold that adapts to one micrograph's score distribution: Otsu's split (the cut that
// maximises the between-class variance) of the scores of all its peaks, after clipping the
// scores above median + 5 x 1.4826 MAD to that value (a few ice blobs or carbon edges must not
// become a class of their own), and never below `floor`. Particle and background maxima form two
// modes, and the cut sits between them on the micrograph's own scale: on a densely packed
// micrograph the particles inflate the robust sigma a LoG map is expressed in, every score
// shrinks, and the cut moves down with them. The floor keeps a micrograph without particles from
// being split inside its noise. Fewer than two scores: `floor`.
double AdaptivePeakThreshold(std::vector<float> scores, double floor);

}  // namespace emkit
