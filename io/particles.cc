#include "io/particles.h"

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <set>

#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "io/mrc.h"

namespace emkit {
namespace {

std::vector<OpticsGroup> ReadOptics(const StarTable& t, const char* pixel_label) {
  std::vector<OpticsGroup> out;
  for (std::size_t r = 0; r < t.num_rows(); ++r) {
    OpticsGroup g;
    g.number = static_cast<int>(t.GetInt(r, "rlnOpticsGroup"));
    if (t.Has("rlnOpticsGroupName")) g.name = t.Get(r, "rlnOpticsGroupName");
    g.voltage_kv = t.GetDouble(r, "rlnVoltage");
    g.cs_mm = t.GetDouble(r, "rlnSphericalAberration");
    g.amplitude_contrast = t.GetDouble(r, "rlnAmplitudeContrast");
    if (t.Has(pixel_label))
      g.pixel_size = t.GetDouble(r, pixel_label);
    else if (t.Has("rlnImagePixelSize"))
      g.pixel_size = t.GetDouble(r, "rlnImagePixelSize");
    else if (t.Has("rlnMicrographPixelSize"))
      g.pixel_size = t.GetDouble(r, "rlnMicrographPixelSize");
    else
      throw IoError(t.Where(r) + ": optics group has no pixel size column (_" + std::string(pixel_label) + ")");
    g.original_pixel_size = t.GetDouble(r, "rlnMicrographOriginalPixelSize", 0);
    g.image_size = static_cast<int>(t.GetDouble(r, "rlnImageSize", 0));
    g.image_dimensionality = static_cast<int>(t.GetDouble(r, "rlnImageDimensionality", 2));
    if (!(g.pixel_size > 0)) throw IoError(t.Where(r) + ": pixel size must be positive");
    out.push_back(g);
  }
  if (out.empty()) throw IoError(t.Where(0) + ": data_optics has no rows");
  return out;
}

// RELION 3.0: one table, optics per row; pixel size from rlnDetectorPixelSize/rlnMagnification.
std::vector<OpticsGroup> OpticsFrom30(const StarTable& t, std::vector<int>* group_of_row) {
  std::vector<OpticsGroup> groups;
  group_of_row->assign(t.num_rows(), 1);
  for (std::size_t r = 0; r < t.num_rows(); ++r) {
    OpticsGroup g;
    g.voltage_kv = t.GetDouble(r, "rlnVoltage", 300);
    g.cs_mm = t.GetDouble(r, "rlnSphericalAberration", 2.7);
    g.amplitude_contrast = t.GetDouble(r, "rlnAmplitudeContrast", 0.1);
    if (t.Has("rlnImagePixelSize"))
      g.pixel_size = t.GetDouble(r, "rlnImagePixelSize");
    else if (t.Has("rlnDetectorPixelSize") && t.Has("rlnMagnification"))
      g.pixel_size = t.GetDouble(r, "rlnDetectorPixelSize") * 1e4 / t.GetDouble(r, "rlnMagnification");
    else
      g.pixel_size = 0;  // unknown: from the images' MRC headers (ResolvePixelSizes)
    int found = 0;
    for (const auto& e : groups)
      if (e.voltage_kv == g.voltage_kv && e.cs_mm == g.cs_mm && e.amplitude_contrast == g.amplitude_contrast &&
          std::abs(e.pixel_size - g.pixel_size) < 1e-6)
        found = e.number;
    if (!found) {
      g.number = static_cast<int>(groups.size()) + 1;
      g.name = "opticsGroup" + std::to_string(g.number);
      groups.push_back(g);
      found = g.number;
    }
    (*group_of_row)[r] = found;
  }
  if (groups.empty()) groups.push_back(OpticsGroup());
  return groups;
}

// Optics groups without a pixel size in the STAR (RELION 3.0 files without rlnImagePixelSize or
// detector pixel size) take it from the MRC header of their first image: a default of 1 Å would
// put every Å-valued option (diameters, resolutions, origins) at the wrong scale.
// `image_of_row` gives the image file of a row (empty when the row has none).
void ResolvePixelSizes(const std::string& star, const std::vector<int>& group_of_row,
                       const std::function<std::string(std::size_t)>& image_of_row, std::vector<OpticsGroup>* optics,
                       bool required) {
  for (auto& g : *optics) {
    if (g.pixel_size > 0) continue;
    std::string image;
    for (std::size_t r = 0; r < group_of_row.size() && image.empty(); ++r)
      if (group_of_row[r] == g.number) image = image_of_row(r);
    if (!image.empty() && (Extension(image) == ".mrc" || Extension(image) == ".mrcs" || Extension(image) == ".map") &&
        FileExists(image))
      g.pixel_size = ReadMrcHeader(image).PixelSize();
    if (g.pixel_size > 0) {
      static std::mutex mutex;
      static std::set<std::string> said;  // once per file (a job may read its input twice)
      std::lock_guard<std::mutex> lock(mutex);
      if (said.insert(star + "\n" + image).second)
        LOG_INFO(star << ": no pixel size in the STAR file; " << g.pixel_size << " Å from the MRC header of " << image);
      continue;
    }
    if (required)
      throw InvalidInputError(star +
                              ": no pixel size: no data_optics block with one, no rlnImagePixelSize or "
                              "rlnDetectorPixelSize/rlnMagnification column, and " +
                              (image.empty() ? std::string("no image to read it from")
                                             : "the header of " + image + " has none (cella / mx)"));
  }
}

}  // namespace

const OpticsGroup& ParticleSet::Optics(int group) const {
  for (const auto& g : optics)
    if (g.number == group) return g;
  throw InvalidInputError("particles refer to optics group " + std::to_string(group) + " which is not defined");
}

const OpticsGroup& MicrographSet::Optics(int group) const {
  for (const auto& g : optics)
    if (g.number == group) return g;
  throw InvalidInputError("micrographs refer to optics group " + std::to_string(group) + " which is not defined");
}

void ParseImageName(const std::string& image_name, const std::string& star_dir, int* index, std::string* path,
                    const std::string& where) {
  const auto at = image_name.find('@');
  if (at == std::string::npos) {
    *index = 0;
    *path = image_name;
  } else {
    char* end = nullptr;
    const std::string num = image_name.substr(0, at);
    const long v = std::strtol(num.c_str(), &end, 10);
    if (num.empty() || *end != '\0' || v < 1)
      throw IoError(where + ": rlnImageName '" + image_name + "' must look like 000001@stack.mrcs (1-based)");
    *index = static_cast<int>(v - 1);
    *path = image_name.substr(at + 1);
  }
  if (path->empty()) throw IoError(where + ": rlnImageName '" + image_name + "' has no file name");
  *path = ResolveBesideStar(*path, star_dir);
}

std::string MakeImageName(int index0, const std::string& path) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%06d@", index0 + 1);
  return buf + path;
}

ParticleSet ReadParticles(const std::string& path) {
  ParticleSet set;
  set.source = ReadStar(path);
  const StarFile& f = set.source;
  const StarTable* optics = f.Find("optics");
  const StarTable* table = f.Find("particles");
  std::vector<int> group_of_row;
  if (optics && table) {
    set.optics = ReadOptics(*optics, "rlnImagePixelSize");
  } else {
    // RELION 3.0: the first loop block.
    table = nullptr;
    for (const auto& b : f.blocks)
      if (b.is_loop() && b.Has("rlnImageName")) {
        table = &b;
        break;
      }
    if (!table)
      for (const auto& b : f.blocks)
        if (b.is_loop() && b.Has("rlnCoordinateX")) {
          table = &b;
          break;
        }
    if (!table) throw IoError(path + ": no particles table (data_particles, or a loop with _rlnImageName)");
    set.optics = OpticsFrom30(*table, &group_of_row);
    if (table->Has("rlnImageName")) {
      const std::string dir = ParentDir(path);
      ResolvePixelSizes(
          path, group_of_row,
          [&](std::size_t r) {
            int index = 0;
            std::string image;
            ParseImageName(table->Get(r, "rlnImageName"), dir, &index, &image, table->Where(r));
            return image;
          },
          &set.optics, false);
    } else {
      for (auto& g : set.optics)  // coordinates only: no pixel size needed
        if (!(g.pixel_size > 0)) g.pixel_size = 1.0;
    }
  }
  if (!optics && table->name() != "particles" && !f.Find("particles")) {
    // RELION 3.0's table (often plain "data_") is the particles block from here on, under the name
    // ParticlesToStar writes, so that copied columns are found under one name.
    set.source.blocks[static_cast<std::size_t>(table - f.blocks.data())].set_name("particles");
  }
  set.particles_block = table->name();
  const bool v30 = !group_of_row.empty();
  set.has_ctf = table->Has("rlnDefocusU");
  set.particles.reserve(table->num_rows());
  for (std::size_t r = 0; r < table->num_rows(); ++r) {
    Particle p;
    if (table->Has("rlnImageName")) p.image_name = table->Get(r, "rlnImageName");
    if (table->Has("rlnMicrographName")) p.micrograph_name = table->Get(r, "rlnMicrographName");
    p.x = table->GetDouble(r, "rlnCoordinateX", 0);
    p.y = table->GetDouble(r, "rlnCoordinateY", 0);
    p.optics_group = v30 ? group_of_row[r] : static_cast<int>(table->GetDouble(r, "rlnOpticsGroup", 1));
    const OpticsGroup& g = set.Optics(p.optics_group);
    p.ctf.voltage_kv = g.voltage_kv;
    p.ctf.cs_mm = g.cs_mm;
    p.ctf.amplitude_contrast = g.amplitude_contrast;
    p.ctf.defocus_u = table->GetDouble(r, "rlnDefocusU", 0);
    p.ctf.defocus_v = table->GetDouble(r, "rlnDefocusV", p.ctf.defocus_u);
    p.ctf.defocus_angle = table->GetDouble(r, "rlnDefocusAngle", 0);
    p.ctf.phase_shift = table->GetDouble(r, "rlnPhaseShift", 0);
    p.ctf.bfactor = table->GetDouble(r, "rlnCtfBfactor", 0);
    p.ctf.scale = table->GetDouble(r, "rlnCtfScalefactor", 1);
    p.rot = table->GetDouble(r, "rlnAngleRot", 0);
    p.tilt = table->GetDouble(r, "rlnAngleTilt", 0);
    p.psi = table->GetDouble(r, "rlnAnglePsi", 0);
    if (table->Has("rlnOriginXAngst")) {
      p.origin_x_angst = table->GetDouble(r, "rlnOriginXAngst");
      p.origin_y_angst = table->GetDouble(r, "rlnOriginYAngst", 0);
    } else if (table->Has("rlnOriginX")) {  // 3.0: pixels
      p.origin_x_angst = table->GetDouble(r, "rlnOriginX") * g.pixel_size;
      p.origin_y_angst = table->GetDouble(r, "rlnOriginY", 0) * g.pixel_size;
    }
    p.class_number = static_cast<int>(table->GetDouble(r, "rlnClassNumber", 0));
    p.fom = table->GetDouble(r, "rlnAutopickFigureOfMerit", 0);
    p.random_subset = static_cast<int>(table->GetDouble(r, "rlnRandomSubset", 0));
    set.particles.push_back(std::move(p));
  }
  return set;
}

void RequireParticleCtf(const ParticleSet& set, const std::string& path, const std::string& off) {
  const std::string fix =
      ": estimate the CTF of the micrographs with `emkit ctf` and extract from its micrographs.star, "
      "or " +
      off;
  const StarTable* t = set.source.Find(set.particles_block);
  for (const char* column : {"rlnDefocusU", "rlnDefocusV"})
    if (!set.has_ctf || (t && !t->Has(column)))
      throw InvalidInputError(path + ": no CTF (no _" + std::string(column) + " column)" + fix);
  bool placeholder = !set.particles.empty();
  for (std::size_t i = 0; i < set.particles.size(); ++i) {
    const CtfParams& c = set.particles[i].ctf;
    if (c.defocus_u <= 0 || c.defocus_v <= 0)
      throw InvalidInputError((t ? t->Where(i) : path) + ": particle " + set.particles[i].image_name +
                              " has no CTF (defocus " + FormatStarNumber(c.defocus_u) + " / " +
                              FormatStarNumber(c.defocus_v) + " Å)" + fix);
    placeholder &= c.defocus_u == 15000 && c.defocus_v == 15000 && c.defocus_angle == 0;
  }
  if (placeholder)
    throw InvalidInputError(path +
                            ": every particle has defocus 15000 Å without astigmatism, the placeholder an earlier "
                            "emkit extract wrote for micrographs without CTF" +
                            fix);
}

StarFile ParticlesToStar(const ParticleSet& set, bool keep_extra) {
  static const std::set<std::string> kCtfColumns = {"rlnDefocusU", "rlnDefocusV", "rlnDefocusAngle", "rlnPhaseShift",
                                                    "rlnCtfBfactor"};
  StarFile out;
  out.version = 30001;
  StarTable optics("optics");
  for (const char* l :
       {"rlnOpticsGroup", "rlnOpticsGroupName", "rlnAmplitudeContrast", "rlnSphericalAberration", "rlnVoltage",
        "rlnImagePixelSize", "rlnMicrographOriginalPixelSize", "rlnImageSize", "rlnImageDimensionality"})
    optics.AddColumn(l);
  for (const auto& g : set.optics)
    optics.AddRow({std::to_string(g.number), g.name, FormatStarNumber(g.amplitude_contrast), FormatStarNumber(g.cs_mm),
                   FormatStarNumber(g.voltage_kv), FormatStarNumber(g.pixel_size),
                   FormatStarNumber(g.original_pixel_size > 0 ? g.original_pixel_size : g.pixel_size),
                   std::to_string(g.image_size), std::to_string(g.image_dimensionality)});
  out.Add(std::move(optics));

  StarTable t("particles");
  static const std::set<std::string> kOwn = {"rlnImageName",
                                             "rlnMicrographName",
                                             "rlnCoordinateX",
                                             "rlnCoordinateY",
                                             "rlnOpticsGroup",
                                             "rlnDefocusU",
                                             "rlnDefocusV",
                                             "rlnDefocusAngle",
                                             "rlnPhaseShift",
                                             "rlnCtfBfactor",
                                             "rlnCtfScalefactor",
                                             "rlnAngleRot",
                                             "rlnAngleTilt",
                                             "rlnAnglePsi",
                                             "rlnOriginXAngst",
                                             "rlnOriginYAngst",
                                             "rlnClassNumber",
                                             "rlnAutopickFigureOfMerit",
                                             "rlnRandomSubset",
                                             "rlnOriginX",
                                             "rlnOriginY",
                                             "rlnVoltage",
                                             "rlnSphericalAberration",
                                             "rlnAmplitudeContrast",
                                             "rlnMagnification",
                                             "rlnDetectorPixelSize"};
  for (const char* l : {"rlnImageName", "rlnMicrographName", "rlnCoordinateX", "rlnCoordinateY", "rlnOpticsGroup",
                        "rlnDefocusU", "rlnDefocusV", "rlnDefocusAngle", "rlnPhaseShift", "rlnCtfBfactor",
                        "rlnAngleRot", "rlnAngleTilt", "rlnAnglePsi", "rlnOriginXAngst", "rlnOriginYAngst"})
    if (set.has_ctf || !kCtfColumns.count(l)) t.AddColumn(l);
  bool any_class = false, any_fom = false, any_subset = false;
  for (const auto& p : set.particles) {
    any_class |= p.class_number != 0;
    any_fom |= p.fom != 0;
    any_subset |= p.random_subset != 0;
  }
  if (any_class) t.AddColumn("rlnClassNumber");
  if (any_fom) t.AddColumn("rlnAutopickFigureOfMerit");
  if (any_subset) t.AddColumn("rlnRandomSubset");
  const StarTable* src = set.source.Find(set.particles_block);
  std::vector<std::pair<int, int>> extra;  // (src column, dst column)
  if (keep_extra && src && src->num_rows() == set.particles.size())
    for (std::size_t c = 0; c < src->labels().size(); ++c)
      if (!kOwn.count(src->labels()[c])) extra.push_back({static_cast<int>(c), t.AddColumn(src->labels()[c])});
  t.Reserve(set.particles.size());
  for (std::size_t i = 0; i < set.particles.size(); ++i) {
    const Particle& p = set.particles[i];
    std::vector<std::string> row = {p.image_name.empty() ? "None" : p.image_name,
                                    p.micrograph_name.empty() ? "None" : p.micrograph_name,
                                    FormatStarNumber(p.x),
                                    FormatStarNumber(p.y),
                                    std::to_string(p.optics_group),
                                    FormatStarNumber(p.ctf.defocus_u),
                                    FormatStarNumber(p.ctf.defocus_v),
                                    FormatStarNumber(p.ctf.defocus_angle),
                                    FormatStarNumber(p.ctf.phase_shift),
                                    FormatStarNumber(p.ctf.bfactor),
                                    FormatStarNumber(p.rot),
                                    FormatStarNumber(p.tilt),
                                    FormatStarNumber(p.psi),
                                    FormatStarNumber(p.origin_x_angst),
                                    FormatStarNumber(p.origin_y_angst)};
    if (any_class) row.push_back(std::to_string(p.class_number));
    if (any_fom) row.push_back(FormatStarNumber(p.fom));
    if (any_subset) row.push_back(std::to_string(p.random_subset));
    if (!set.has_ctf) row.erase(row.begin() + 5, row.begin() + 10);  // the five CTF columns
    row.resize(t.labels().size());
    for (auto [s, d] : extra) row[d] = src->row(i)[s];
    t.AddRow(std::move(row));
  }
  out.Add(std::move(t));
  return out;
}

void WriteParticles(const std::string& path, const ParticleSet& set, bool keep_extra) {
  WriteStar(path, ParticlesToStar(set, keep_extra));
}

MicrographSet ReadMicrographs(const std::string& path) {
  StarFile f = ReadStar(path);
  MicrographSet set;
  const StarTable* optics = f.Find("optics");
  const StarTable* table = f.Find("micrographs");
  std::vector<int> group_of_row;
  if (!table)
    for (const auto& b : f.blocks)
      if (b.is_loop() && b.Has("rlnMicrographName")) {
        table = &b;
        break;
      }
  if (!table) throw IoError(path + ": no micrographs table (data_micrographs or a loop with _rlnMicrographName)");
  // Another kind of STAR with micrograph names: say which, rather than read each row as a micrograph.
  if (table->Has("rlnImageName"))
    throw InvalidInputError(path + ": expected a micrographs STAR, got particles (_rlnImageName)");
  if (table->Has("rlnCoordinateX"))
    throw InvalidInputError(
        path +
        ": expected a micrographs STAR, got coordinates (_rlnCoordinateX/Y): give the "
        "micrographs (files, a folder or their STAR) as input and these coordinates as -c/--coords");
  if (optics)
    set.optics = ReadOptics(*optics, "rlnMicrographPixelSize");
  else
    set.optics = OpticsFrom30(*table, &group_of_row);
  table->RequireColumn("rlnMicrographName");
  if (!group_of_row.empty()) {
    // Without one in the STAR: the first micrograph's MRC header; else 0 (unknown), which the
    // commands refuse unless a pixel size is given (images in TIFF/PNG/JPG have none).
    const std::string dir = ParentDir(path);
    ResolvePixelSizes(
        path, group_of_row,
        [&](std::size_t r) {
          const std::string name = table->Get(r, "rlnMicrographName");
          return ResolveBesideStar(name, dir);
        },
        &set.optics, false);
  }
  std::map<std::string, std::size_t> row_of;
  for (std::size_t r = 0; r < table->num_rows(); ++r) {
    MicrographEntry m;
    m.name = table->Get(r, "rlnMicrographName");
    m.where = table->Where(r);
    const auto [first, fresh] = row_of.emplace(std::filesystem::path(m.name).lexically_normal().string(), r);
    if (!fresh)
      throw InvalidInputError(m.where + ": micrograph " + m.name + " is listed twice (also at " +
                              table->Where(first->second) + "); give each micrograph once");
    m.optics_group =
        group_of_row.empty() ? static_cast<int>(table->GetDouble(r, "rlnOpticsGroup", 1)) : group_of_row[r];
    const OpticsGroup& g = set.Optics(m.optics_group);
    m.has_ctf = table->Has("rlnDefocusU") && table->Has("rlnDefocusV");
    m.ctf.voltage_kv = g.voltage_kv;
    m.ctf.cs_mm = g.cs_mm;
    m.ctf.amplitude_contrast = g.amplitude_contrast;
    if (m.has_ctf) {
      m.ctf.defocus_u = table->GetDouble(r, "rlnDefocusU");
      m.ctf.defocus_v = table->GetDouble(r, "rlnDefocusV", m.ctf.defocus_u);
      m.ctf.defocus_angle = table->GetDouble(r, "rlnDefocusAngle", 0);
      m.ctf.phase_shift = table->GetDouble(r, "rlnPhaseShift", 0);
      m.ctf.bfactor = table->GetDouble(r, "rlnCtfBfactor", 0);
      m.ctf_max_resolution = table->GetDouble(r, "rlnCtfMaxResolution", 0);
      m.ctf_figure_of_merit = table->GetDouble(r, "rlnCtfFigureOfMerit", 0);
      if (table->Has("rlnCtfImage")) m.ctf_image = table->Get(r, "rlnCtfImage");
    }
    set.micrographs.push_back(m);
  }
  return set;
}

void WriteMicrographs(const std::string& path, const MicrographSet& set) {
  StarFile out;
  out.version = 30001;
  StarTable optics("optics");
  for (const char* l : {"rlnOpticsGroup", "rlnOpticsGroupName", "rlnAmplitudeContrast", "rlnSphericalAberration",
                        "rlnVoltage", "rlnMicrographPixelSize", "rlnMicrographOriginalPixelSize"})
    optics.AddColumn(l);
  for (const auto& g : set.optics)
    optics.AddRow({std::to_string(g.number), g.name, FormatStarNumber(g.amplitude_contrast), FormatStarNumber(g.cs_mm),
                   FormatStarNumber(g.voltage_kv), FormatStarNumber(g.pixel_size),
                   FormatStarNumber(g.original_pixel_size > 0 ? g.original_pixel_size : g.pixel_size)});
  out.Add(std::move(optics));
  StarTable t("micrographs");
  // CTF columns only for micrographs with a CTF: no placeholder a later step could take for one.
  bool ctf = !set.micrographs.empty();
  for (const auto& m : set.micrographs) ctf &= m.has_ctf;
  for (const auto& m : set.micrographs)
    if (m.has_ctf != ctf)
      throw InvalidInputError(path + ": micrograph " + m.name +
                              " has a CTF and others have none: write them with CTF columns for all or none");
  for (const char* l : {"rlnMicrographName", "rlnOpticsGroup", "rlnDefocusU", "rlnDefocusV", "rlnDefocusAngle",
                        "rlnPhaseShift", "rlnCtfBfactor"})
    if (ctf || std::string(l) == "rlnMicrographName" || std::string(l) == "rlnOpticsGroup") t.AddColumn(l);
  bool fitted = false, images = false;  // CTF estimation's columns, as RELION's CtfFind job writes them
  for (const auto& m : set.micrographs) {
    fitted |= ctf && m.ctf_max_resolution > 0;
    images |= ctf && !m.ctf_image.empty();
  }
  if (images) t.AddColumn("rlnCtfImage");
  if (fitted)
    for (const char* l : {"rlnCtfAstigmatism", "rlnCtfFigureOfMerit", "rlnCtfMaxResolution"}) t.AddColumn(l);
  for (const auto& m : set.micrographs) {
    std::vector<std::string> row = {m.name,
                                    std::to_string(m.optics_group),
                                    FormatStarNumber(m.ctf.defocus_u),
                                    FormatStarNumber(m.ctf.defocus_v),
                                    FormatStarNumber(m.ctf.defocus_angle),
                                    FormatStarNumber(m.ctf.phase_shift),
                                    FormatStarNumber(m.ctf.bfactor)};
    if (!ctf) row.resize(2);
    if (images) row.push_back(m.ctf_image.empty() ? "None" : m.ctf_image);
    if (fitted)
      for (double v : {m.ctf.defocus_u - m.ctf.defocus_v, m.ctf_figure_of_merit, m.ctf_max_resolution})
        row.push_back(FormatStarNumber(v));
    t.AddRow(std::move(row));
  }
  out.Add(std::move(t));
  WriteStar(path, out);
}

}  // namespace emkit
