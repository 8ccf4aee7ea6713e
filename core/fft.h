// FFTs of real grids through FFTW3 (single precision).
// Convention (as RELION): the forward transform is scaled by 1/N, the inverse is not, so
// Fourier coefficients are averages and Fourier cropping/padding preserves real-space values.
// Plans are created once per (size, direction, threads) with FFTW_ESTIMATE (deterministic
// plan choice, hence reproducible results) and are executed from any thread.
#pragma once

#include "core/image.h"

namespace emkit {

// Forward r2c transform of a 1D/2D/3D real grid (nz == 1 means 2D).
FourierGrid Fft(const Image& in, int threads = 1);
void Fft(const Image& in, FourierGrid* out, int threads = 1);

// Inverse c2r transform; `in` is left untouched.
Image InverseFft(const FourierGrid& in, int threads = 1);
void InverseFft(const FourierGrid& in, Image* out, int threads = 1);
// The same values without a copy of the transform (FFTW's c2r overwrites its input): `in` is left
// holding unspecified values, of its size (3D reconstructions: one padded volume less).
void InverseFftOverwriting(FourierGrid* in, Image* out, int threads = 1);

// Transforms with the origin at the image centre (nx/2, ny/2, nz/2) rather than at pixel 0:
// rotations in Fourier space then turn the image about its centre, and a centred object has
// a (nearly) real transform. Inverse of each other.
FourierGrid CentredFft(const Image& in, int threads = 1);
Image InverseCentredFft(const FourierGrid& in, int threads = 1);
// The same, `in` left holding unspecified values (no copy of it: see InverseFftOverwriting).
Image InverseCentredFftOverwriting(FourierGrid* in, int threads = 1);

// Smallest even size >= n of the form 2^a x {1, 3, 5, 9}: fast FFTW_ESTIMATE transforms.
int NiceFftSize(int n);

// Number of cached plans (for tests).
int FftCachedPlanCount();

}  // namespace emkit
