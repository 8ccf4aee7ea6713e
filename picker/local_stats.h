// Local statistics of an image under a disk, by FFT convolution (periodic edges): the
// local normalisation of template matching and RELION-like bad-region rejection both use it.
#pragma once

#include "core/fft.h"  // NiceFftSize
#include "core/image.h"

namespace emkit {

// Offsets (dx, dy) with dx^2 + dy^2 <= radius^2: the binary disk every local statistic uses.
int DiskPixelCount(double radius);

// Spectrum S such that InverseFft(Fft(img) * S) is the mean of img over the disk centred
// on each pixel (periodic), for an nx x ny image.
FourierGrid DiskMeanKernel(int nx, int ny, double radius, int threads = 1);

// Mean and standard deviation of img over the disk around every pixel.
void LocalMeanStd(const Image& img, double radius, Image* mean, Image* stddev, int threads = 1);

// `img` extended by mirroring (half-sample symmetric: column -1 repeats column 0, column nx
// repeats nx - 1, and so on with period 2 nx) to nx_out x ny_out, img's pixel (0, 0) landing at
// (left, top). FFT filtering of the result does not wrap one edge of the micrograph onto the
// other, so a filter near an edge responds to the micrograph's own content (crop it back).
Image MirrorPad(const Image& img, int left, int top, int nx_out, int ny_out);

// The nx x ny window of img starting at (x0, y0).
Image Crop(const Image& img, int x0, int y0, int nx, int ny);

}  // namespace emkit
