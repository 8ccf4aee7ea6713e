// The picking pipeline shared by every method: preprocess -> score (a ScoreMapper) -> peaks
// -> bad-region rejection -> coordinates in original micrograph pixels; and the outputs
// (RELION autopick STAR per micrograph, a combined coordinates STAR, PNG overlays).
#pragma once

#include <string>
#include <vector>

#include "core/ctf.h"
#include "core/image.h"
#include "io/coordinates.h"
#include "io/particles.h"
#include "picker/preprocess.h"
#include "picker/score_map.h"

namespace emkit {

struct PickOptions {
  double diameter = 0;   // Å: particle diameter (mask, local statistics, defaults below)
  double threshold = 0;  // keep peaks with score >= threshold (units of the method's score)
  // Per micrograph, keep peaks with score >= AdaptivePeakThreshold(the scores of all its peaks,
  // threshold) (picker/peaks.h): `threshold` is then the floor of the adaptive threshold.
  bool adaptive_threshold = false;
  double min_distance = 0;  // Å between picks; 0 = half the diameter
  double border = 0;        // Å: no picks closer to the micrograph edge; 0 = none
  int max_picks = 0;        // per micrograph, 0 = no limit
  // Bad-region rejection as RELION's autopick: statistics of the preprocessed micrograph
  // (sigma units) under the particle disk; a pick is dropped when its local standard
  // deviation exceeds max_stddev_noise (> 0 to enable) or its local mean is below
  // min_avg_noise (enabled when > -900).
  double max_stddev_noise = -1;
  double min_avg_noise = -999;
  PreprocessOptions preprocess;
  int threads = 1;
  void Check() const;
};

// One micrograph to pick: where it is, its name for outputs, pixel size and CTF.
struct MicrographInput {
  std::string path;  // file to read
  std::string name;  // rlnMicrographName as given (STAR) or the path
  double pixel_size = 0;
  bool has_ctf = false;
  CtfParams ctf;
  std::string key;    // output stem (<key>_autopick.star); empty = MicrographKey(name)
  std::string where;  // "micrographs.star:12" when listed in a STAR
};

// Output stems for micrographs: the base name without extension when the base names are
// unique, else (two folders holding mic_0001.mrc) the relative folder structure for every one, as
// RELION does ("a/mic_0001", "b/mic_0001"). Throws when two names still give one stem.
std::vector<std::string> MicrographOutputKeys(const std::vector<std::string>& names);
// The name as a relative path without extension (and "_autopick"): root, "." and ".." removed.
std::string MicrographPathKey(const std::string& name);

// A micrographs STAR (one argument ending in .star), or image files / glob patterns / folders.
// `pixel_size` (> 0) overrides; otherwise MRC headers or the STAR's optics give it.
std::vector<MicrographInput> ListMicrographs(const std::vector<std::string>& inputs, double pixel_size);
// Fills pixel sizes still 0 from the MRC headers; throws InvalidInputError naming the file and
// --pixel-size for an image without one (TIFF/PNG/JPG).
void FillPixelSizes(std::vector<MicrographInput>* inputs);
// The micrographs as a micrographs STAR would list them: names (the files' paths), CTF where
// they have one, an optics group per pixel size / voltage / Cs / amplitude contrast.
MicrographSet MicrographSetOf(const std::vector<MicrographInput>& inputs);

struct PickResult {
  std::vector<Coordinate> picks;  // original micrograph pixels, best first
  int rejected_bad_region = 0;
  double threshold = 0;  // the score threshold applied (this micrograph's when adaptive)
  PreprocessedMicrograph preprocessed;
  Image score;
  double seconds = 0;  // score + peaks (preprocessing excluded: see preprocess_seconds)
  double preprocess_seconds = 0;
};

PickResult PickMicrograph(const Image& micrograph, const MicrographInput& input, ScoreMapper* mapper,
                          const PickOptions& opt);

// The two halves of PickMicrograph, for the pipeline below: preprocessing (no scorer), then
// scoring + peaks + bad-region rejection on `r->preprocessed` (fills picks, score, seconds).
PickResult PreprocessForPick(const Image& micrograph, const MicrographInput& input, const PickOptions& opt);
void ScoreAndFindPeaks(PickResult* r, const MicrographInput& input, ScoreMapper* mapper, const PickOptions& opt);

struct PickRunOptions {
  std::string out;                 // folder for <key>_autopick.star (and overlays/)
  bool overlays = false;           // write <out>/overlays/<key>.png
  std::size_t queue_capacity = 2;  // micrographs waiting between two stages
  bool pipelined = true;           // false = one micrograph after another (reference)
};

struct PickRunRecord {
  MicrographInput input;  // pixel size filled from the file when it was 0
  std::vector<Coordinate> picks;
  int rejected_bad_region = 0;
  double threshold = 0;
  double working_pixel_size = 0;
  double read_seconds = 0, preprocess_seconds = 0, pick_seconds = 0, write_seconds = 0;
};

// Picks every micrograph and writes its autopick STAR (and overlay), as a bounded pipeline
// read -> preprocess -> score + peaks -> write, one thread per stage and queues of
// `queue_capacity` between them (scoring keeps opt.threads inside the mapper). Results and
// files are the same as one micrograph after another; records come back in input order.
// The first error (e.g. an unreadable micrograph, named in the message) stops the pipeline
// and is re-thrown; micrographs after it get no outputs.
std::vector<PickRunRecord> PickMicrographs(const std::vector<MicrographInput>& inputs, ScoreMapper* mapper,
                                           const PickOptions& opt, const PickRunOptions& run);

// <dir>/<basename without extension>_autopick.star
std::string AutopickPath(const std::string& dir, const std::string& micrograph_name);
// <dir>/<input.key>_autopick.star (key from MicrographOutputKeys; MicrographKey(name) when empty).
std::string AutopickPath(const std::string& dir, const MicrographInput& input);
// Combined STAR: rlnMicrographName, rlnCoordinateX/Y, rlnAutopickFigureOfMerit, rlnClassNumber, rlnAnglePsi.
void WriteCombinedCoordinates(const std::string& path, const std::vector<std::string>& micrographs,
                              const std::vector<std::vector<Coordinate>>& picks);
// Reads picks from a combined STAR (with rlnMicrographName) or a folder of per-micrograph
// files (any format io/coordinates.h reads) into micrograph name -> coordinates. Folder
// files are keyed by their base name without "_autopick" and extension; files named
// *_decoys.* (the simulator's non-particles) are skipped, and when some files are named
// *_autopick.* only those are read (a pick job's folder also holds its combined STAR).
// Sub-folders are read too (keys "a/mic_0001"); a combined STAR keys by the whole name.
struct CoordinateCollection {
  std::vector<std::string> keys;  // in file order
  std::vector<std::vector<Coordinate>> coords;
  std::vector<std::string> sources;  // file (and line) each key came from
  // The entry whose key matches the micrograph: equal paths without extension, or one a
  // trailing part of the other ("mic_0001" ~ "Movies/a/mic_0001.mrc"), the longest match
  // winning. Throws InvalidInputError when two entries match equally (naming both).
  const std::vector<Coordinate>* Find(const std::string& micrograph) const;
  int FindIndex(const std::string& micrograph) const;  // -1 when none
};
CoordinateCollection ReadCoordinateCollection(const std::string& path, const CoordinateIoOptions& io = {});
// The key that matches a micrograph path in a CoordinateCollection: base name without
// extension and without a trailing "_autopick".
std::string MicrographKey(const std::string& name);

// PNG of the preprocessed micrograph at the micrograph's size with circles at the picks (green)
// and, optionally, truth (red, drawn first), and a legend; coordinates in original pixels.
void WritePickOverlay(const std::string& path, const PreprocessedMicrograph& pre, const std::vector<Coordinate>& picks,
                      double radius_original_px, const std::vector<Coordinate>* truth = nullptr);

}  // namespace emkit
