// Fourier shell correlation between two maps (or images) of one size, as RELION's getFSC:
// shells of width one Fourier pixel, shell index = round(|k|), 0..n/2.
#pragma once

#include <string>
#include <vector>

#include "core/image.h"

namespace emkit {

std::vector<double> Fsc(const Volume& a, const Volume& b, int threads = 1);

// The resolution (Å) at which the FSC first drops below `threshold` (from shell 1 on): the
// frequency of the last shell at or above it, box * pixel_size / shell (RELION's rule). Returns
// the Nyquist resolution when it never drops, and 0 when shell 1 is already below.
double FscResolution(const std::vector<double>& fsc, double threshold, int box, double pixel_size);

// Resolution (Å) of shell i of a box (i > 0).
inline double ShellResolution(int shell, int box, double pixel_size) { return box * pixel_size / shell; }

// Writes rlnSpectralIndex, rlnResolution (1/Å), rlnAngstromResolution, rlnFourierShellCorrelation
// (a RELION-style data_fsc table), atomically.
void WriteFscStar(const std::string& path, const std::vector<double>& fsc, int box, double pixel_size);

}  // namespace emkit
