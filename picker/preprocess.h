// Micrograph preprocessing shared by every picker (template, LoG, CNN) and by training:
// bin to a working pixel size by Fourier cropping, optional high-pass against ice
// gradients, robust (optionally local) normalisation. CONTRACT shared by picker/ and training/.
#pragma once

#include <string>

#include "core/ctf.h"
#include "core/image.h"

namespace emkit {

struct PreprocessOptions {
  double working_pixel_size = 0;   // Å; 0 = choose from particle_diameter_px_target
  double particle_diameter = 0;    // Å (used when working_pixel_size == 0)
  double diameter_px_target = 24;  // particle size in pixels after binning (when choosing)
  double highpass_angstrom = 0;    // 0 = off; e.g. 2-3 x particle diameter
  double lowpass_angstrom = 0;     // 0 = off
  bool robust_normalise = true;    // median/MAD-based mean 0, std 1 (else plain mean/std)
  // > 0: afterwards, normalise each pixel by the mean and standard deviation in a square window of
  // this size (Å) around it, so a carbon edge or an ice gradient does not change the noise scale of
  // the rest of the micrograph; 0 = one (robust) mean and std per micrograph.
  double local_normalise_angstrom = 0;
  bool invert = false;  // multiply by -1 after normalising (particles bright)
  int threads = 1;
  void Check() const;  // throws InvalidInputError naming the field
};

struct PreprocessedMicrograph {
  Image image;            // binned, filtered, normalised
  double pixel_size = 0;  // Å per binned pixel
  double bin_factor = 1;  // original px per binned px (x and y the same)
  int original_nx = 0, original_ny = 0;
  // Set by the pick pipeline, not by PreprocessMicrograph: the micrograph's name and CTF
  // (has_ctf when the micrographs STAR carries defocus) for scorers that need them.
  std::string name;
  bool has_ctf = false;
  CtfParams ctf;
  // Binned -> original micrograph pixel coordinates (and back).
  double ToOriginal(double binned) const { return binned * bin_factor; }
  double ToBinned(double original) const { return original / bin_factor; }
};

PreprocessedMicrograph PreprocessMicrograph(const Image& micrograph, double pixel_size, const PreprocessOptions& opt);

}  // namespace emkit
