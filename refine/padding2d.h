// 2x (or pad x) oversampled Fourier grids of 2D references, as RELION's projector uses them:
// rotations by bilinear interpolation are accurate only on a padded grid. The real-space image is
// pre-divided by the interpolation kernel's transform (sinc^2, "gridding correction") before
// padding, and reconstructions are divided by it after cropping.
#pragma once

#include "core/image.h"

namespace emkit {

// Centred transform of `ref` zero-padded to pad*n, scaled by pad^2 so that its values at
// pad*k equal the unpadded transform's at k.
FourierGrid PaddedTransform(const Image& ref, int pad);
// Centre n x n of a pad*n image (the inverse transform of a padded grid, still scaled by pad^2),
// with the scale and the gridding correction undone.
Image CropPadded(const Image& big, int n, int pad);

}  // namespace emkit
