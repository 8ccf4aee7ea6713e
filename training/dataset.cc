#include "training/dataset.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "core/parallel.h"
#include "io/hdf5.h"
#include "io/micrograph.h"
#include "io/mrc.h"

namespace emkit {
namespace fs = std::filesystem;

namespace {

bool IsMicrograph(const std::string& path) {
  const std::string e = Extension(path);
  return e == ".mrc" || e == ".tif" || e == ".tiff" || e == ".png" || e == ".jpg" || e == ".jpeg";
}

// Size and modification time: a changed input file changes the cache key.
std::string FileStamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return path + ":missing";
  return path + ":" + std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

uint64_t Fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

std::string CacheKey(const DatasetOptions& o, const std::vector<std::string>& mics,
                     const std::vector<std::string>& coord_files) {
  std::ostringstream k;
  k.precision(17);
  k << "emkit-trainset-1|px=" << o.pixel_size << "|wpx=" << o.preprocess.working_pixel_size
    << "|hp=" << o.preprocess.highpass_angstrom << "|lp=" << o.preprocess.lowpass_angstrom
    << "|robust=" << o.preprocess.robust_normalise << "|local=" << o.preprocess.local_normalise_angstrom
    << "|inv=" << o.preprocess.invert << "|fmt=" << int(o.coordinate_io.format) << "|flip=" << o.coordinate_io.flip_y
    << "|box=" << o.coordinate_io.box_size;
  for (std::size_t i = 0; i < mics.size(); ++i) k << "|" << FileStamp(mics[i]) << "|" << FileStamp(coord_files[i]);
  return k.str();
}

std::string Stem(const std::string& path) { return StripExtension(Basename(path)); }

// Coordinates of every micrograph: per-micrograph files from a folder, or one shared file.
// --flip-y (y counted from the other edge) uses each micrograph's own height.
std::vector<std::vector<Coordinate>> ReadAllCoordinates(const DatasetOptions& o, const std::vector<std::string>& mics,
                                                        std::vector<std::string>* files) {
  std::vector<std::vector<Coordinate>> out(mics.size());
  files->assign(mics.size(), o.coordinates);
  CoordinateIoOptions io = o.coordinate_io;
  io.flip_y = false;  // flipped below, per micrograph
  if (fs::is_directory(o.coordinates)) {
    for (std::size_t i = 0; i < mics.size(); ++i) {
      (*files)[i] = FindCoordinateFile(o.coordinates, mics[i]);
      if ((*files)[i].empty())
        throw IoError(o.coordinates + ": no coordinate file for micrograph " + mics[i] + " (looked for " +
                      Stem(mics[i]) + "[_suffix].{star,box,csv,txt})");
      out[i] = ReadCoordinates((*files)[i], io);
    }
  } else {
    if (!FileExists(o.coordinates)) throw IoError(o.coordinates + ": coordinate file or folder not found");
    auto all = ReadCoordinates(o.coordinates, io);
    std::map<std::string, std::size_t> by_stem;
    for (std::size_t i = 0; i < mics.size(); ++i) by_stem[Stem(mics[i])] = i;
    std::set<std::string> elsewhere;
    for (const auto& m : o.other_micrographs) elsewhere.insert(Stem(m));
    std::map<std::string, int> unmatched;  // micrograph name -> coordinates dropped
    std::size_t skipped = 0;               // on micrographs loaded elsewhere
    for (const auto& c : all) {
      if (c.micrograph.empty()) {
        if (mics.size() != 1)
          throw InvalidInputError(o.coordinates + ": coordinates carry no micrograph names, but " +
                                  std::to_string(mics.size()) + " micrographs were given");
        out[0].push_back(c);
        continue;
      }
      auto it = by_stem.find(Stem(c.micrograph));
      if (it != by_stem.end())
        out[it->second].push_back(c);
      else if (elsewhere.count(Stem(c.micrograph)))
        ++skipped;
      else
        ++unmatched[c.micrograph];
    }
    if (!all.empty() && skipped < all.size()) {
      std::size_t dropped = 0;
      for (const auto& u : unmatched) dropped += u.second;
      if (dropped + skipped == all.size())
        throw InvalidInputError(o.coordinates + ": none of its " + std::to_string(all.size()) +
                                " coordinates names one of the given micrographs (first: '" + unmatched.begin()->first +
                                "'; names are matched without folder and extension)");
      if (dropped > 0)
        LOG_WARN(o.coordinates << ": " << dropped << " coordinates on " << unmatched.size()
                               << " micrograph(s) not given here are ignored (first: '" << unmatched.begin()->first
                               << "')");
    }
    std::size_t empty = 0;
    std::string first_empty;
    for (std::size_t i = 0; i < mics.size(); ++i)
      if (out[i].empty() && empty++ == 0) first_empty = mics[i];
    if (empty > 0)
      LOG_WARN(o.coordinates << ": no coordinates for " << empty << " of " << mics.size()
                             << " micrograph(s) (first: " << first_empty << ")");
  }
  if (o.coordinate_io.flip_y) {
    for (std::size_t i = 0; i < mics.size(); ++i) {
      if (out[i].empty()) continue;
      const int h = ReadMicrographHeight(mics[i]);
      for (auto& c : out[i]) c.y = h - 1 - c.y;
    }
  }
  return out;
}

void CheckCoordinates(const std::string& file, const std::vector<Coordinate>& c, const Image& mic) {
  for (std::size_t i = 0; i < c.size(); ++i)
    if (!(c[i].x >= -0.5 && c[i].y >= -0.5 && c[i].x < mic.nx() + 0.5 && c[i].y < mic.ny() + 0.5))
      throw InvalidInputError(file + ": coordinate " + std::to_string(i + 1) + " (" + std::to_string(c[i].x) + ", " +
                              std::to_string(c[i].y) + ") lies outside the " + std::to_string(mic.nx()) + "x" +
                              std::to_string(mic.ny()) + " micrograph");
}

}  // namespace

void DatasetOptions::Check() const {
  if (micrographs.empty()) throw InvalidInputError("training set: no micrographs given");
  if (coordinates.empty()) throw InvalidInputError("training set: no coordinates given (--coords)");
  if (pixel_size < 0) throw InvalidInputError("--pixel-size must be > 0");
  if (!(preprocess.working_pixel_size > 0)) throw InvalidInputError("training set: working pixel size not set");
  preprocess.Check();
}

std::vector<std::string> ExpandMicrographPaths(const std::vector<std::string>& items) {
  std::vector<std::string> out;
  for (const auto& item : items) {
    if (fs::is_directory(item)) {
      std::vector<std::string> in;
      for (const auto& e : fs::directory_iterator(item))
        if (e.is_regular_file() && IsMicrograph(e.path().string())) in.push_back(e.path().string());
      if (in.empty()) throw IoError(item + ": folder holds no micrographs (.mrc/.tif/.png/.jpg)");
      std::sort(in.begin(), in.end());
      out.insert(out.end(), in.begin(), in.end());
    } else if (FileExists(item)) {
      out.push_back(item);
    } else {
      throw IoError(item + ": micrograph not found");
    }
  }
  return out;
}

std::string FindCoordinateFile(const std::string& folder, const std::string& micrograph_path) {
  const std::string stem = Stem(micrograph_path);
  for (const char* suffix : {"", "_autopick", "_manualpick", "_picks"})
    for (const char* ext : {".star", ".box", ".csv", ".txt"}) {
      const std::string p = JoinPath(folder, stem + suffix + ext);
      if (FileExists(p)) return p;
    }
  return "";
}

double MicrographPixelSize(const std::string& path, double given) {
  if (given > 0) return given;
  if (Extension(path) == ".mrc") {
    const double p = ReadMrcHeader(path).PixelSize();
    if (p > 0) return p;
  }
  throw InvalidInputError(path + ": pixel size unknown (not in an MRC header): give --pixel-size");
}

std::vector<AnnotatedMicrograph> LoadAnnotatedMicrographs(const DatasetOptions& opt, bool* cache_hit) {
  opt.Check();
  const auto mics = ExpandMicrographPaths(opt.micrographs);
  std::vector<std::string> coord_files;
  auto coords = ReadAllCoordinates(opt, mics, &coord_files);
  const std::string key = CacheKey(opt, mics, coord_files);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(Fnv1a(key)));
  const std::string cache =
      opt.cache_dir.empty() ? "" : JoinPath(opt.cache_dir, std::string("trainset_") + hex + ".h5");
  std::vector<AnnotatedMicrograph> out(mics.size());
  if (cache_hit) *cache_hit = false;
  if (!cache.empty() && FileExists(cache)) {
    try {
      auto f = Hdf5File::OpenReadOnly(cache);
      if (f.GetStringAttribute("key") == key) {
        for (std::size_t i = 0; i < mics.size(); ++i) {
          std::vector<uint64_t> dims;
          auto v = f.ReadFloats("image_" + std::to_string(i), &dims);
          out[i].image = Image(static_cast<int>(dims[1]), static_cast<int>(dims[0]));
          std::copy(v.begin(), v.end(), out[i].image.data());
          out[i].bin_factor = f.GetNumberAttribute("bin_" + std::to_string(i));
          out[i].pixel_size = MicrographPixelSize(mics[i], opt.pixel_size) * out[i].bin_factor;
          out[i].path = mics[i];
          out[i].coords = coords[i];
        }
        if (cache_hit) *cache_hit = true;
        LOG_INFO("training set: " << mics.size() << " preprocessed micrographs from cache " << cache);
        return out;
      }
    } catch (const Error& e) {
      LOG_WARN("ignoring unreadable cache " << cache << ": " << e.what());
    }
  }
  Progress progress("preprocessing", mics.size());
  for (std::size_t i = 0; i < mics.size(); ++i) {
    try {
      Image raw = ReadMicrograph(mics[i]);
      CheckCoordinates(coord_files[i], coords[i], raw);
      auto pre = PreprocessMicrograph(raw, MicrographPixelSize(mics[i], opt.pixel_size), opt.preprocess);
      out[i].path = mics[i];
      out[i].image = std::move(pre.image);
      out[i].bin_factor = pre.bin_factor;
      out[i].pixel_size = pre.pixel_size;
      out[i].coords = coords[i];
    } catch (...) {
      RethrowWithContext("preparing training micrograph " + mics[i]);
    }
    progress.Advance();
  }
  progress.Finish();
  if (!cache.empty()) {
    CreateDirectories(opt.cache_dir);
    auto f = Hdf5File::Create(cache);
    f.SetAttribute("key", key);
    for (std::size_t i = 0; i < out.size(); ++i) {
      const auto& img = out[i].image;
      f.WriteFloats("image_" + std::to_string(i), {uint64_t(img.ny()), uint64_t(img.nx())}, img.data(), 1);
      f.SetAttribute("bin_" + std::to_string(i), out[i].bin_factor);
      f.SetAttribute("path_" + std::to_string(i), out[i].path);
    }
    f.Commit();
    LOG_INFO("training set cached in " << cache);
  }
  return out;
}

}  // namespace emkit
