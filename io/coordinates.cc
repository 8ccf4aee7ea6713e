#include "io/coordinates.h"

#include <cmath>
#include <cstdlib>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "io/star.h"

namespace emkit {
namespace {

std::vector<std::string> Split(const std::string& line, char sep) {
  std::vector<std::string> out;
  if (sep == ' ') {
    std::istringstream ss(line);
    std::string t;
    while (ss >> t) out.push_back(t);
    return out;
  }
  std::string cur;
  for (char c : line) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else if (c != '\r') {
      cur += c;
    }
  }
  out.push_back(cur);
  for (auto& s : out) {
    const auto a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
    s = a == std::string::npos ? "" : s.substr(a, b - a + 1);
  }
  return out;
}

double Number(const std::string& s, const std::string& where, const std::string& field) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !std::isfinite(v))
    throw IoError(where + ": field " + field + " = '" + s + "' is not a number");
  return v;
}

void FlipIfAsked(std::vector<Coordinate>* coords, const CoordinateIoOptions& opt, const std::string& path) {
  if (!opt.flip_y) return;
  if (opt.image_height <= 0) throw InvalidInputError(path + ": --flip-y needs the micrograph height");
  for (auto& c : *coords) c.y = opt.image_height - 1 - c.y;
}

}  // namespace

CoordinateFormat ParseCoordinateFormat(const std::string& name) {
  if (name == "auto") return CoordinateFormat::kAuto;
  if (name == "star") return CoordinateFormat::kStar;
  if (name == "box") return CoordinateFormat::kBox;
  if (name == "csv") return CoordinateFormat::kCsv;
  if (name == "topaz") return CoordinateFormat::kTopaz;
  throw InvalidInputError("unknown coordinate format '" + name + "' (auto, star, box, csv, topaz)");
}

CoordinateFormat FormatFromPath(const std::string& path) {
  const std::string e = Extension(path);
  if (e == ".star") return CoordinateFormat::kStar;
  if (e == ".box") return CoordinateFormat::kBox;
  if (e == ".csv") return CoordinateFormat::kCsv;
  if (e == ".txt" || e == ".tsv") return CoordinateFormat::kTopaz;
  throw InvalidInputError(path + ": cannot tell the coordinate format from the extension (.star, .box, .csv, .txt)");
}

std::vector<Coordinate> ReadCoordinates(const std::string& path, const CoordinateIoOptions& opt) {
  const CoordinateFormat fmt = opt.format == CoordinateFormat::kAuto ? FormatFromPath(path) : opt.format;
  std::vector<Coordinate> out;
  if (fmt == CoordinateFormat::kStar) {
    StarFile f = ReadStar(path);
    const StarTable* t = nullptr;
    for (const auto& b : f.blocks)
      if (b.is_loop() && b.Has("rlnCoordinateX")) {
        t = &b;
        break;
      }
    if (!t) {
      // An autopick STAR with no particles is legal: an empty loop has no columns only if
      // nothing was written; accept a file without blocks as empty.
      for (const auto& b : f.blocks)
        if (b.is_loop() && b.num_rows() > 0) throw IoError(path + ": no _rlnCoordinateX column");
      return out;
    }
    t->RequireColumn("rlnCoordinateY");
    for (std::size_t r = 0; r < t->num_rows(); ++r) {
      Coordinate c;
      c.x = t->GetDouble(r, "rlnCoordinateX");
      c.y = t->GetDouble(r, "rlnCoordinateY");
      c.fom = t->GetDouble(r, "rlnAutopickFigureOfMerit", 0);
      c.class_number = static_cast<int>(t->GetDouble(r, "rlnClassNumber", 0));
      c.psi = t->GetDouble(r, "rlnAnglePsi", 0);
      if (t->Has("rlnMicrographName")) c.micrograph = t->Get(r, "rlnMicrographName");
      out.push_back(c);
    }
  } else {
    const std::string text = ReadTextFile(path);
    std::istringstream in(text);
    std::string line;
    long lineno = 0;
    std::vector<std::string> header;
    while (std::getline(in, line)) {
      ++lineno;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos || line[0] == '#') continue;
      const std::string where = path + ":" + std::to_string(lineno);
      if (fmt == CoordinateFormat::kBox) {
        auto f = Split(line, ' ');
        if (f.size() < 4) throw IoError(where + ": EMAN .box lines need x y width height");
        Coordinate c;
        const double w = Number(f[2], where, "width"), h = Number(f[3], where, "height");
        c.x = Number(f[0], where, "x") + w / 2;
        c.y = Number(f[1], where, "y") + h / 2;
        out.push_back(c);
      } else if (fmt == CoordinateFormat::kCsv) {
        auto f = Split(line, ',');
        if (header.empty()) {
          header = f;
          if (header.size() < 2 || header[0].find('X') == std::string::npos)
            throw IoError(where + ": CSV header must start with X-Coordinate,Y-Coordinate");
          continue;
        }
        if (f.size() != header.size())
          throw IoError(where + ": row has " + std::to_string(f.size()) + " fields, header has " +
                        std::to_string(header.size()));
        Coordinate c;
        c.x = Number(f[0], where, header[0]);
        c.y = Number(f[1], where, header[1]);
        for (std::size_t i = 2; i < f.size(); ++i)
          if (header[i] == "Score" || header[i] == "score" || header[i] == "FOM")
            c.fom = Number(f[i], where, header[i]);
        out.push_back(c);
      } else {  // Topaz: image_name x_coord y_coord [score]
        auto f = Split(line, line.find('\t') != std::string::npos ? '\t' : ' ');
        if (header.empty()) {
          header = f;
          if (header.size() < 3 || header[1] != "x_coord" || header[2] != "y_coord")
            throw IoError(where + ": Topaz header must be image_name x_coord y_coord [score]");
          continue;
        }
        if (f.size() != header.size())
          throw IoError(where + ": row has " + std::to_string(f.size()) + " fields, header has " +
                        std::to_string(header.size()));
        Coordinate c;
        c.micrograph = f[0];
        c.x = Number(f[1], where, "x_coord");
        c.y = Number(f[2], where, "y_coord");
        if (f.size() > 3) c.fom = Number(f[3], where, header[3]);
        out.push_back(c);
      }
    }
  }
  FlipIfAsked(&out, opt, path);
  return out;
}

void WriteCoordinates(const std::string& path, const std::vector<Coordinate>& coords_in,
                      const CoordinateIoOptions& opt) {
  std::vector<Coordinate> coords = coords_in;
  FlipIfAsked(&coords, opt, path);
  const CoordinateFormat fmt = opt.format == CoordinateFormat::kAuto ? FormatFromPath(path) : opt.format;
  std::ostringstream out;
  char buf[256];
  switch (fmt) {
    case CoordinateFormat::kStar: {
      StarFile f;
      f.version = 30001;
      StarTable t("");
      for (const char* l :
           {"rlnCoordinateX", "rlnCoordinateY", "rlnClassNumber", "rlnAutopickFigureOfMerit", "rlnAnglePsi"})
        t.AddColumn(l);
      for (const auto& c : coords)
        t.AddRow({FormatStarNumber(c.x), FormatStarNumber(c.y), std::to_string(c.class_number), FormatStarNumber(c.fom),
                  FormatStarNumber(c.psi)});
      f.Add(std::move(t));
      WriteStar(path, f);
      return;
    }
    case CoordinateFormat::kBox: {
      if (opt.box_size <= 0) throw InvalidInputError(path + ": writing EMAN .box needs a box size");
      for (const auto& c : coords) {
        std::snprintf(buf, sizeof buf, "%.0f\t%.0f\t%d\t%d\n", c.x - opt.box_size / 2.0, c.y - opt.box_size / 2.0,
                      opt.box_size, opt.box_size);
        out << buf;
      }
      break;
    }
    case CoordinateFormat::kCsv:
      out << "X-Coordinate,Y-Coordinate,Score\n";
      for (const auto& c : coords) {
        std::snprintf(buf, sizeof buf, "%.2f,%.2f,%.6g\n", c.x, c.y, c.fom);
        out << buf;
      }
      break;
    case CoordinateFormat::kTopaz:
      out << "image_name\tx_coord\ty_coord\tscore\n";
      for (const auto& c : coords) {
        std::snprintf(buf, sizeof buf, "\t%.0f\t%.0f\t%.6g\n", c.x, c.y, c.fom);
        out << (c.micrograph.empty() ? StripExtension(Basename(path)) : c.micrograph) << buf;
      }
      break;
    default:
      throw InternalError("WriteCoordinates: format");
  }
  WriteTextFile(path, out.str());
}

}  // namespace emkit
