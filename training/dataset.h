// Annotated micrographs for training the CNN picker: micrographs (MRC/TIFF/PNG/JPG) with
// coordinates in any supported format, preprocessed exactly as at picking time and cached in
// HDF5 keyed by the inputs (paths, sizes, modification times) and the preprocessing options.
#pragma once

#include <string>
#include <vector>

#include "core/image.h"
#include "io/coordinates.h"
#include "picker/preprocess.h"

namespace emkit {

struct AnnotatedMicrograph {
  std::string path;                // source micrograph
  Image image;                     // preprocessed (binned, normalised)
  double bin_factor = 1;           // original px per binned px
  double pixel_size = 0;           // Å per binned px (as PreprocessMicrograph sets it)
  std::vector<Coordinate> coords;  // particle centres in ORIGINAL micrograph pixels
};

struct DatasetOptions {
  // Micrograph files, or folders (every .mrc/.tif/.tiff/.png/.jpg/.jpeg inside, sorted).
  std::vector<std::string> micrographs;
  // A folder with one coordinate file per micrograph (same stem, any supported extension,
  // optionally with a suffix such as _autopick), or one file holding all micrographs
  // (Topaz text / STAR with micrograph names).
  std::string coordinates;
  CoordinateIoOptions coordinate_io;
  double pixel_size = 0;         // Å; 0 = from the MRC header (required for image formats)
  PreprocessOptions preprocess;  // working_pixel_size must be set
  std::string cache_dir;         // empty = no cache
  // Micrographs loaded elsewhere (e.g. the validation set) whose names a shared coordinate file
  // may hold: their coordinates are skipped without a warning.
  std::vector<std::string> other_micrographs;
  void Check() const;
};

// Expands folders to sorted micrograph paths; throws IoError for a missing path.
std::vector<std::string> ExpandMicrographPaths(const std::vector<std::string>& items);

// The coordinate file for one micrograph in a folder, or "" when there is none.
std::string FindCoordinateFile(const std::string& folder, const std::string& micrograph_path);

// Reads, preprocesses (or loads from the cache) every micrograph with its coordinates.
// `cache_hit` (optional) tells whether the cache was used.
std::vector<AnnotatedMicrograph> LoadAnnotatedMicrographs(const DatasetOptions& opt, bool* cache_hit = nullptr);

// The pixel size to use for a micrograph file: `given` if > 0, else its MRC header; throws
// InvalidInputError naming the file when neither is known.
double MicrographPixelSize(const std::string& path, double given);

}  // namespace emkit
