// Particle coordinates in the formats pickers exchange.
// Convention (pinned by tests): x is the column, y the row of the image array as stored,
// row 0 first: row 0 is the top of a PNG/TIFF/JPG and the first row of an MRC section.
// RELION's rlnCoordinateX/Y use the same convention for MRC. `flip_y` maps y -> (height - 1 - y)
// for data annotated on an image shown the other way up.
#pragma once

#include <string>
#include <vector>

namespace emkit {

struct Coordinate {
  double x = 0, y = 0;  // particle centre, pixels
  double fom = 0;       // figure of merit / score
  int class_number = 0;
  double psi = 0;
  std::string micrograph;  // set for multi-micrograph formats (Topaz), else empty
};

enum class CoordinateFormat { kAuto, kStar, kBox, kCsv, kTopaz };

CoordinateFormat ParseCoordinateFormat(const std::string& name);  // "auto", "star", "box", "csv", "topaz"
CoordinateFormat FormatFromPath(const std::string& path);         // by extension (.star/.box/.csv/.txt)

struct CoordinateIoOptions {
  CoordinateFormat format = CoordinateFormat::kAuto;
  bool flip_y = false;
  int image_height = 0;  // needed for flip_y
  int box_size = 0;      // EMAN .box: width/height written and used to find centres
};

std::vector<Coordinate> ReadCoordinates(const std::string& path, const CoordinateIoOptions& opt = {});
void WriteCoordinates(const std::string& path, const std::vector<Coordinate>& coords,
                      const CoordinateIoOptions& opt = {});

}  // namespace emkit
