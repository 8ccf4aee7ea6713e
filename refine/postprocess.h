// Post-processing of two half maps as RELION 3.1's relion_postprocess (src/postprocessing.cpp):
// FSC of the unmasked and the masked halves, the masked FSC corrected by phase randomisation
// beyond the shell where the unmasked FSC first drops below 0.8 (Chen et al. 2013:
// FSC_true = (FSC_t - FSC_n) / (1 - FSC_n) from two shells beyond), the resolution where the
// corrected FSC first drops below 0.143, and the sharpened average of the halves: divided by the
// detector's MTF, weighted by sqrt(2 FSC / (1 + FSC)), multiplied by exp(-B s² / 4) with B from
// a straight line through the Guinier plot (ln |F| against 1/d² from --autob_lowres on) or given.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/image.h"
#include "refine/map_filters.h"

namespace emkit {

struct PostprocessOptions {
  double pixel_size = 0;       // Å (required)
  double randomize_fsc = 0.8;  // randomise phases from the shell where the unmasked FSC drops below this
  double randomize_at_A = 0;   // > 0: randomise from this resolution (Å) instead
  bool auto_bfactor = false;   // fit B on the Guinier plot (else `bfactor`)
  double bfactor = 0;          // Å², used when !auto_bfactor (negative sharpens; 0: none)
  double autob_lowres = 10;    // Å: the fit's low-resolution end
  double autob_highres = 0;    // Å: the fit's high-resolution end (0: as far as the weighted map reaches)
  bool fsc_weighting = true;   // sqrt(2 FSC / (1 + FSC)) weighting
  double low_pass_A = 0;       // low-pass the sharpened map here (Å); 0: no; < 0: at the final resolution
  int filter_edge_width = 2;   // shells of the low-pass's raised cosine
  bool force_mask = false;     // keep the mask even when the unmasked FSC reaches further
  MtfCurve mtf;                // empty: no MTF correction
  double mtf_pixel_size = 0;   // Å, pixel size of the detector images (0: pixel_size)
  uint64_t seed = 0;           // phase randomisation
  int threads = 1;
  void Check() const;  // throws InvalidInputError naming the field
};

struct PostprocessResult {
  int box = 0;
  double pixel_size = 0;
  bool masked = false;        // a mask was given and used for the FSC
  bool mask_skipped = false;  // the unmasked FSC reached further: its curve was used (no --force-mask)
  double mask_fraction = 0;   // fraction of mask voxels above 0.5
  int randomize_shell = 0;    // phases randomised from this shell (masked only)
  // Per shell 0..box/2.
  std::vector<double> fsc_unmasked, fsc_masked, fsc_random_masked, fsc_corrected, fsc_part_fracmask;
  double resolution_A = 999;  // where fsc_corrected first drops below 0.143
  int resolution_shell = 0;
  double bfactor = 0;  // applied (Å²)
  LineFit guinier_fit;
  std::vector<GuinierPoint> guinier_in, guinier_invmtf, guinier_weighted, guinier_sharpened;
  double low_pass_A = 0;  // applied (0: none)
  Volume sharpened, sharpened_masked;
  std::vector<std::string> warnings;

  double RandomizeFromA() const { return randomize_shell > 0 ? box * pixel_size / randomize_shell : 0; }
};

// `mask`: nullptr for none, else values in [0, 1] of the halves' shape. Throws
// InvalidInputError for maps that are not cubes of one size, a mask out of range, or an
// unmasked FSC that never drops below randomize_fsc.
PostprocessResult Postprocess(const Volume& half1, const Volume& half2, const Volume* mask,
                              const PostprocessOptions& options);

// (FSC_t - FSC_n) / (1 - FSC_n) from shell randomize_shell + 2 on, FSC_t below it (RELION's
// calculateFSCtrue).
std::vector<double> CorrectedFsc(const std::vector<double>& masked, const std::vector<double>& random_masked,
                                 int randomize_shell);

// postprocess.star as RELION writes it: data_general, data_fsc, data_guinier.
struct PostprocessNames {
  std::string half1, half2, mask, command_line;
};
void WritePostprocessStar(const std::string& path, const PostprocessResult& r, const PostprocessOptions& o,
                          const PostprocessNames& names);

// postprocess_fsc.xml as RELION writes it for EMDB depositions: the corrected FSC by resolution (1/Å).
void WriteFscXml(const std::string& path, const PostprocessResult& r);

// RELION's rule for the other half map: "half1" in the file name (not its folders) becomes
// "half2", or "half2" becomes "half1"; empty when the name has neither.
std::string OtherHalfMapName(const std::string& path);

}  // namespace emkit
