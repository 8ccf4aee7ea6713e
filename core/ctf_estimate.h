// CTF estimation from one micrograph, as CTFFIND4 does it (Rohou & Grigorieff 2015):
//   1. the amplitude spectrum averaged over overlapping tiles (periodograms of `box` px);
//   2. background removal: per spatial frequency, the mean (and the spread) of the rotational
//      average over one Thon-ring period, subtracted (divided), so rings of every resolution
//      weigh alike;
//   3. a 1D search of defocus (and phase shift) on the rotational average;
//   4. a 2D search of defocus U/V and astigmatism angle on the spectrum, then a simplex
//      refinement; the score is the correlation of the spectrum with CTF^2 (RELION's CTF,
//      core/ctf.h) between the two resolution limits;
//   5. the fit resolution: where the correlation between the equiphase average of the spectrum
//      (rings of the astigmatic fit mapped onto one radius) and the fit falls below 0.5 over a
//      window of two rings.
// Results do not depend on the thread count.
#pragma once

#include <vector>

#include "core/ctf.h"
#include "core/image.h"

namespace emkit {

struct CtfEstimateOptions {
  double pixel_size = 0;  // Å, required
  double voltage_kv = 300, cs_mm = 2.7, amplitude_contrast = 0.1;
  int box = 512;                  // tile size (px, even)
  double tile_overlap = 0.5;      // fraction of a tile shared with its neighbour
  double min_resolution = 30;     // Å: fit from this resolution ...
  double max_resolution = 5;      // ... to this one (clamped at 2.1 pixels)
  double defocus_min = 5000;      // Å, search range of the mean defocus
  double defocus_max = 50000;     // Å
  double max_astigmatism = 2000;  // Å: largest |defocus U - defocus V| searched
  bool fit_phase_shift = false;   // search a phase shift in [0, 180) degrees (phase plates)
  int threads = 1;
  void Check() const;  // throws InvalidInputError naming the field
};

struct CtfEstimate {
  CtfParams ctf;               // defocus U >= V; angle in [0, 180) degrees; optics from the options
  double figure_of_merit = 0;  // correlation of spectrum and CTF^2 between the limits (rlnCtfFigureOfMerit)
  double fit_resolution = 0;   // Å (rlnCtfMaxResolution)
  double astigmatism() const { return ctf.defocus_u - ctf.defocus_v; }
  int tiles = 0;
  double pixel_size = 0;  // Å, of the micrograph
  // Diagnostics: the background-removed spectrum (box x box, origin at box/2, rings bright) and,
  // by spatial frequency (1/Å), its equiphase average, the fitted CTF^2 and their local correlation.
  Image spectrum;
  std::vector<double> frequency, equiphase, fit, correlation;
  // CTFFIND's picture: the spectrum (left half smoothed over 3 x 3 pixels), its right half up to
  // the fit resolution replaced by the fitted CTF^2, values in [-2, 2].
  Image DiagnosticImage() const;
};

// Mean power spectrum of tiles of `box` px overlapping by about `overlap` (the first and last at
// the edges), each with its mean removed; returned as box x box amplitudes with the origin at
// (box/2, box/2).
Image AverageAmplitudeSpectrum(const Image& micrograph, int box, int threads, int* tiles = nullptr,
                               double overlap = 0.5);

// The whole estimation (steps 1-5) on one micrograph.
CtfEstimate EstimateCtf(const Image& micrograph, const CtfEstimateOptions& opt);
// Steps 2-5 on a centred amplitude spectrum (box x box) from AverageAmplitudeSpectrum.
CtfEstimate EstimateCtfFromSpectrum(const Image& amplitude, const CtfEstimateOptions& opt);

}  // namespace emkit
