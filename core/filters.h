// Fourier-space resizing and filters, Gaussian blur and soft masks.
#pragma once

#include "core/image.h"

namespace emkit {

// Fourier crop (new size smaller) or zero-pad (larger) of a 2D image or a 3D volume to
// a cube/square of new_size. Mean value and low frequencies are preserved: binning
// without aliasing. Works on non-square 2D images too when new_nx/new_ny are given.
Image FourierResize(const Image& in, int new_nx, int new_ny, int new_nz = 1, int threads = 1);
FourierGrid FourierResize(const FourierGrid& in, int new_nx, int new_ny, int new_nz = 1);

// Multiplies a Fourier grid by a radial profile f(r) with r the frequency in 1/Å given
// the real-space pixel size.
template <class F>
void ApplyRadial(FourierGrid* g, double pixel_size, F&& f);

// Raised-cosine edges: the filter passes fully below (resp. above) the cut and falls to
// zero over `edge_width` Fourier pixels. Resolutions in Å; <= 0 disables that side.
struct BandPass {
  double lowpass_angstrom = 0;   // remove detail finer than this
  double highpass_angstrom = 0;  // remove variations coarser than this
  double edge_width_px = 2;
};
void ApplyBandPass(FourierGrid* g, double pixel_size, const BandPass& bp);
Image BandPassFilter(const Image& in, double pixel_size, const BandPass& bp, int threads = 1);

// Gaussian blur with real-space sigma in pixels (applied in Fourier space, periodic edges).
Image GaussianBlur(const Image& in, double sigma_px, int threads = 1);

// Soft circular (spherical for volumes) mask around the centre (n/2): 1 inside radius,
// cosine fall-off over `edge_width` pixels. Outside becomes `background` (or, when
// fill_with_outside_mean is set, the mean of the pixels outside the mask, like RELION).
struct SoftMask {
  double radius_px = 0;
  double edge_width_px = 5;
  bool fill_with_outside_mean = false;
  float background = 0;
};
void ApplySoftMask(Image* img, const SoftMask& mask);
// The weight (0..1) of the soft mask at distance r from the centre.
double SoftMaskWeight(double r, double radius, double edge_width);

// Subtracts mean, divides by stddev over the whole image (or over pixels outside
// `outside_radius` when > 0, as relion_preprocess normalises particles).
void Normalise(Image* img, double outside_radius = 0);

// Radially averaged power spectrum (per Fourier shell, shells 0..n/2).
std::vector<double> RadialPowerSpectrum(const FourierGrid& g);

// Fourier ring/shell correlation between two grids of the same shape (shells 0..n/2).
std::vector<double> FourierShellCorrelation(const FourierGrid& a, const FourierGrid& b);

// Pearson correlation of two equally shaped real grids.
double Correlation(const Image& a, const Image& b);

// ---------------------------------------------------------------------------------------
template <class F>
void ApplyRadial(FourierGrid* g, double pixel_size, F&& f) {
  const int nx = g->logical_nx(), ny = g->logical_ny(), nz = g->logical_nz();
  const int hx = g->half_nx();
  auto& grid = g->grid();
  for (int z = 0; z < nz; ++z) {
    const double fz = FourierGrid::Freq(z, nz) / (nz * pixel_size);
    for (int y = 0; y < ny; ++y) {
      const double fy = FourierGrid::Freq(y, ny) / (ny * pixel_size);
      for (int x = 0; x < hx; ++x) {
        const double fx = x / (nx * pixel_size);
        grid(x, y, z) *= static_cast<float>(f(std::sqrt(fx * fx + fy * fy + (nz > 1 ? fz * fz : 0.0))));
      }
    }
  }
}

}  // namespace emkit
