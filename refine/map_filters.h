// Shell-wise operations on the Fourier transform of a cubic map, as RELION 3.1 does them
// (src/fftw.cpp, src/postprocessing.cpp): shell index = round(|k|) in Fourier pixels, the
// resolution of a coefficient |k| / (box * pixel size). Transforms are emkit's (forward
// scaled by 1/N, as RELION's), so log-amplitudes compare with RELION's directly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/image.h"

namespace emkit {

// Calls f(index into the grid, kx, ky, kz) for every coefficient of the Hermitian half.
template <class F>
void ForEachCoefficient(const FourierGrid& g, F&& f) {
  const int hx = g.half_nx(), ny = g.logical_ny(), nz = g.logical_nz();
  for (int z = 0; z < nz; ++z) {
    const int kz = nz > 1 ? FourierGrid::Freq(z, nz) : 0;
    for (int y = 0; y < ny; ++y) {
      const int ky = FourierGrid::Freq(y, ny);
      const std::size_t row = (static_cast<std::size_t>(z) * ny + y) * hx;
      for (int x = 0; x < hx; ++x) f(row + x, x, ky, kz);
    }
  }
}

// Raised-cosine low-pass at `resolution_A` over `edge_width` shells (RELION's lowPassFilterMap).
void LowPassFilterMap(FourierGrid* f, double resolution_A, double pixel_size, int edge_width = 2);

// Multiplies by exp(-B s² / 4) (s in 1/Å) up to Nyquist and zeroes the corners beyond it
// (RELION's applyBFactorToMap): a negative B sharpens.
void ApplyBFactorToMap(FourierGrid* f, double bfactor, double pixel_size);

// Multiplies shell i by sqrt(2 FSC / (1 + FSC)) up to the last shell before the FSC first drops
// below 1e-4, and zeroes everything beyond (Rosenthal & Henderson 2003; RELION's applyFscWeighting).
void ApplyFscWeighting(FourierGrid* f, const std::vector<double>& fsc);

// Replaces the phase of every coefficient with |k| >= shell by a uniformly random one, keeping
// its amplitude; Hermitian partners on the kx = 0 (and Nyquist) planes stay conjugate, so the
// map stays real and every amplitude is kept exactly. Draws from Rng(seed, stream).
void RandomizePhasesBeyond(FourierGrid* f, int shell, uint64_t seed, uint64_t stream);
Volume RandomizePhasesBeyond(const Volume& map, int shell, uint64_t seed, uint64_t stream, int threads = 1);

// A detector's MTF as RELION's STAR file gives it (rlnResolutionInversePixel, Nyquist = 0.5;
// rlnMtfValue), read with errors naming the file and row.
struct MtfCurve {
  std::vector<double> inverse_pixel, value;
};
MtfCurve ReadMtfStar(const std::string& path);
// Divides every coefficient up to Nyquist by the MTF interpolated at its resolution
// (RELION's divideByMtf: linear interpolation on an assumed even grid, ends held).
// `mtf_pixel_size`: the pixel size of the detector's images (Å).
void DivideByMtf(FourierGrid* f, const MtfCurve& mtf, double pixel_size, double mtf_pixel_size);

// Guinier plot (RELION's makeGuinierPlot): per shell up to Nyquist, x = 1/d² (Å⁻²), y = ln of
// the mean amplitude (-99 for an empty shell) and weight 1 where fit_lowres >= d >= fit_highres
// and the shell is not empty.
struct GuinierPoint {
  double x = 0, y = 0, w = 0;
};
std::vector<GuinierPoint> GuinierPlot(const FourierGrid& f, double pixel_size, double fit_lowres, double fit_highres);

// Weighted least-squares line y = slope x + intercept; `correlation` is r² (RELION's
// fitStraightLine). All zero when the points do not spread in x.
struct LineFit {
  double slope = 0, intercept = 0, correlation = 0;
};
LineFit FitStraightLine(const std::vector<GuinierPoint>& points);

}  // namespace emkit
