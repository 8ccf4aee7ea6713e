// Local statistics of an image under a disk, by FFT convolution (periodic edges): the
// local normalisation of template matching and RELION-like bad-region rejection both use it.
#pragma once

#include "core/image.h"

namespace emkit {

// Offsets (dx, dy) with dx^2 + dy^2 <= radius^2: the binary disk every local statistic uses.
int DiskPixelCount(double radius);

// Spectrum S such that InverseFft(Fft(img) * S) is the mean of img over the disk centred
// on each pixel (periodic), for an nx x ny image.
FourierGrid DiskMeanKernel(int nx, int ny, double radius, int threads = 1);

// Mean and standard deviation of img over the disk around every pixel.
void LocalMeanStd(const Image& img, double radius, Image* mean, Image* stddev, int threads = 1);

// Smallest even size >= n of the form 2^a x {1, 3, 5, 9}: fast FFTW_ESTIMATE transforms.
int NiceFftSize(int n);

}  // namespace emkit
