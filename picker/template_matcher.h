// Template matching as RELION's autopick does it, computed the fast way: normalised
// cross-correlation with LOCAL normalisation under the template's circular mask, best over
// references x in-plane rotations per pixel = figure of merit (FOM, in [-1, 1]).
//   NCC(x) = sum_u t'(u) m(x+u) / sqrt(sum_{|u|<=R} (m(x+u) - mu(x))^2)
// with t' the rotated reference, low-passed (and CTF-multiplied), masked to the disk |u| <= R,
// mean-subtracted under the mask and scaled to unit norm. The micrograph is transformed once;
// each rotated reference costs one forward FFT of the padded template, a product and one
// inverse FFT; the local variance is computed once per micrograph (the mask is round, so it
// does not depend on the rotation). Because the references are low-passed, the correlation
// is band-limited: it is computed on a grid sampled at `correlation_pixel` Å (default
// lowpass / 2.5, i.e. just finer than Nyquist of the low-pass) and interpolated back.
// With `whiten`, micrograph and references are first divided by the square root of the
// micrograph's radial power spectrum (pre-whitening: NCC is then the matched filter in
// coloured noise), and the micrograph is low-passed like the references.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/image.h"
#include "picker/score_map.h"

namespace emkit {

struct TemplateOptions {
  double diameter = 0;           // Å, mask diameter (the particle's)
  double lowpass_angstrom = 20;  // references are low-passed to this
  double psi_step = 10;          // degrees between in-plane rotations
  bool use_ctf = false;          // multiply references by the micrograph's CTF when it has one
  double correlation_pixel = 0;  // Å; 0 = lowpass / 2.5; < 0 = the micrograph's working pixel
  bool whiten = false;           // divide micrograph and references by the micrograph's power spectrum
  // The class number reported for each reference (e.g. the 2D classes chosen from a class2d
  // run); empty = 1, 2, ... in the order given.
  std::vector<int> reference_numbers;
  int threads = 1;
  void Check() const;
};

class TemplateScoreMapper : public ScoreMapper {
 public:
  // `references`: square 2D images (white particles on a zero background), pixel size in Å.
  TemplateScoreMapper(ImageStack references, double reference_pixel_size, const TemplateOptions& opt);
  ~TemplateScoreMapper() override;

  Image Score(const PreprocessedMicrograph& micrograph) override;
  std::string name() const override { return "template"; }
  // class_number = the reference's number (reference_numbers, else 1-based index), psi = best
  // in-plane angle (degrees).
  void Annotate(std::vector<Coordinate>* peaks) const override;

  int num_rotations() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace emkit
