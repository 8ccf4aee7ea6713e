#include "picker/pick.h"

#include <glob.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <optional>

#include "core/bounded_queue.h"
#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "io/micrograph.h"
#include "io/mrc.h"
#include "io/particles.h"
#include "io/star.h"
#include "picker/local_stats.h"
#include "picker/peaks.h"

namespace emkit {

void PickOptions::Check() const {
  auto bad = [](const std::string& field, const std::string& why) {
    throw InvalidInputError("pick option " + field + ": " + why);
  };
  if (!(diameter > 0)) bad("diameter", "the particle diameter (Å) must be > 0");
  if (min_distance < 0) bad("min_distance", "must be >= 0");
  if (border < 0) bad("border", "must be >= 0");
  if (max_picks < 0) bad("max_picks", "must be >= 0");
  if (threads < 1) bad("threads", "must be >= 1");
  preprocess.Check();
}

namespace {

bool HasGlobChars(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

std::vector<std::string> ExpandGlob(const std::string& pattern) {
  glob_t g{};
  const int rc = glob(pattern.c_str(), 0, nullptr, &g);
  std::vector<std::string> out;
  if (rc == 0)
    for (std::size_t i = 0; i < g.gl_pathc; ++i) out.push_back(g.gl_pathv[i]);
  globfree(&g);
  if (out.empty()) throw InvalidInputError("no micrographs match '" + pattern + "'");
  std::sort(out.begin(), out.end());
  return out;
}

// A folder given as input: the micrographs in it (MRC, TIFF, PNG, JPEG), sorted.
std::vector<std::string> MicrographsInFolder(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string ext = Extension(e.path().string());
    if (e.is_regular_file() && (ext == ".mrc" || ext == ".mrcs" || ext == ".tif" || ext == ".tiff" || ext == ".png" ||
                                ext == ".jpg" || ext == ".jpeg"))
      out.push_back(e.path().string());
  }
  if (out.empty()) throw InvalidInputError(dir + ": folder holds no micrographs (.mrc, .tif, .png, .jpg)");
  std::sort(out.begin(), out.end());
  return out;
}

void SetOutputKeys(std::vector<MicrographInput>* inputs) {
  std::vector<std::string> names;
  for (const auto& in : *inputs) names.push_back(in.name);
  const std::vector<std::string> keys = MicrographOutputKeys(names);
  for (std::size_t i = 0; i < keys.size(); ++i) (*inputs)[i].key = keys[i];
}

}  // namespace

std::vector<MicrographInput> ListMicrographs(const std::vector<std::string>& inputs, double pixel_size) {
  std::vector<MicrographInput> out;
  if (inputs.empty()) throw InvalidInputError("no micrographs given");
  if (inputs.size() == 1 && Extension(inputs[0]) == ".star") {
    const std::string& star = inputs[0];
    MicrographSet set = ReadMicrographs(star);
    for (const auto& m : set.micrographs) {
      MicrographInput in;
      in.name = m.name;
      in.where = m.where;
      in.path = ResolveBesideStar(m.name, ParentDir(star));
      in.pixel_size = pixel_size > 0 ? pixel_size : set.Optics(m.optics_group).pixel_size;
      in.has_ctf = m.has_ctf;
      in.ctf = m.ctf;
      out.push_back(in);
    }
    if (out.empty()) throw InvalidInputError(star + ": no micrographs listed");
    SetOutputKeys(&out);
    return out;
  }
  for (const auto& arg : inputs) {
    std::vector<std::string> paths = HasGlobChars(arg) ? ExpandGlob(arg) : std::vector<std::string>{arg};
    std::error_code ec;
    if (!HasGlobChars(arg) && std::filesystem::is_directory(arg, ec)) paths = MicrographsInFolder(arg);
    for (const auto& p : paths) {
      MicrographInput in;
      in.path = in.name = p;
      in.pixel_size = pixel_size;
      out.push_back(in);
    }
  }
  SetOutputKeys(&out);
  return out;
}

void FillPixelSizes(std::vector<MicrographInput>* inputs) {
  for (auto& in : *inputs) {
    if (in.pixel_size > 0) continue;
    const std::string ext = Extension(in.path);
    const bool mrc = ext == ".mrc" || ext == ".mrcs" || ext == ".map";
    if (mrc) in.pixel_size = ReadMrcHeader(in.path).PixelSize();
    if (!(in.pixel_size > 0))
      throw InvalidInputError(in.path + ": no pixel size (" +
                              (mrc ? std::string("none in the MRC header") : "an image file has none") +
                              "); give --pixel-size");
  }
}

MicrographSet MicrographSetOf(const std::vector<MicrographInput>& inputs) {
  MicrographSet set;
  for (const auto& in : inputs) {
    int group = 0;
    for (const auto& g : set.optics)
      if (g.pixel_size == in.pixel_size && g.voltage_kv == in.ctf.voltage_kv && g.cs_mm == in.ctf.cs_mm &&
          g.amplitude_contrast == in.ctf.amplitude_contrast)
        group = g.number;
    if (group == 0) {
      OpticsGroup g;
      g.number = group = static_cast<int>(set.optics.size()) + 1;
      g.name = "opticsGroup" + std::to_string(g.number);
      g.pixel_size = in.pixel_size;
      g.voltage_kv = in.ctf.voltage_kv;
      g.cs_mm = in.ctf.cs_mm;
      g.amplitude_contrast = in.ctf.amplitude_contrast;
      set.optics.push_back(g);
    }
    MicrographEntry m;
    m.name = in.path;
    m.where = in.where;
    m.optics_group = group;
    m.has_ctf = in.has_ctf;
    m.ctf = in.ctf;
    set.micrographs.push_back(m);
  }
  return set;
}

std::string MicrographPathKey(const std::string& name) {
  std::vector<std::string> parts;
  for (const auto& p : std::filesystem::path(name).lexically_normal()) {
    const std::string s = p.string();
    if (s.empty() || s == "/" || s == "." || s == "..") continue;
    parts.push_back(s);
  }
  std::string key;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) key += parts[i] + "/";
  return key + MicrographKey(name);
}

std::vector<std::string> MicrographOutputKeys(const std::vector<std::string>& names) {
  std::vector<std::string> keys;
  std::map<std::string, std::size_t> seen;
  bool clash = false;
  for (const auto& n : names) {
    keys.push_back(MicrographKey(n));
    clash |= !seen.emplace(keys.back(), keys.size() - 1).second;
  }
  if (!clash) return keys;
  seen.clear();
  for (std::size_t i = 0; i < names.size(); ++i) {
    keys[i] = MicrographPathKey(names[i]);
    const auto [it, fresh] = seen.emplace(keys[i], i);
    if (!fresh)
      throw InvalidInputError("micrographs '" + names[it->second] + "' and '" + names[i] +
                              "' would write the same outputs (" + keys[i] + "): give each micrograph once");
  }
  return keys;
}

std::string AutopickPath(const std::string& dir, const MicrographInput& input) {
  return JoinPath(dir, (input.key.empty() ? MicrographKey(input.name) : input.key) + "_autopick.star");
}

PickResult PreprocessForPick(const Image& micrograph, const MicrographInput& input, const PickOptions& opt) {
  opt.Check();
  PickResult r;
  const double t0 = NowSeconds();
  PreprocessOptions pre_opt = opt.preprocess;
  pre_opt.threads = opt.threads;
  if (pre_opt.particle_diameter <= 0) pre_opt.particle_diameter = opt.diameter;
  r.preprocessed = PreprocessMicrograph(micrograph, input.pixel_size, pre_opt);
  PreprocessedMicrograph& pre = r.preprocessed;
  pre.name = input.name;
  pre.has_ctf = input.has_ctf;
  pre.ctf = input.ctf;
  r.preprocess_seconds = NowSeconds() - t0;
  return r;
}

void ScoreAndFindPeaks(PickResult* result, const MicrographInput& input, ScoreMapper* mapper, const PickOptions& opt) {
  PickResult& r = *result;
  const double t1 = NowSeconds();
  const PreprocessedMicrograph& pre = r.preprocessed;
  r.score = mapper->Score(pre);
  if (!r.score.SameShape(pre.image))
    throw InternalError("scorer '" + mapper->name() + "' returned a map of another size than the micrograph");
  const double px = pre.pixel_size;
  PeakOptions peaks;
  peaks.threshold = opt.adaptive_threshold ? -std::numeric_limits<double>::infinity() : opt.threshold;
  peaks.min_distance = (opt.min_distance > 0 ? opt.min_distance : opt.diameter / 2) / px;
  peaks.border = static_cast<int>(std::ceil(opt.border / px));
  std::vector<Coordinate> found = FindPeaks(r.score, peaks);
  r.threshold = opt.threshold;
  if (opt.adaptive_threshold) {
    // Greedy suppression runs best first, so the peaks above a threshold are the same whether
    // the threshold is applied before or after it.
    std::vector<float> scores;
    scores.reserve(found.size());
    for (const auto& p : found) scores.push_back(static_cast<float>(p.fom));
    r.threshold = AdaptivePeakThreshold(std::move(scores), opt.threshold);
    found.erase(std::remove_if(found.begin(), found.end(), [&](const Coordinate& p) { return p.fom < r.threshold; }),
                found.end());
  }
  mapper->Annotate(&found);

  const bool check_std = opt.max_stddev_noise > 0, check_mean = opt.min_avg_noise > -900;
  if (check_std || check_mean) {
    const double radius = std::min(opt.diameter / 2 / px, (std::min(pre.image.nx(), pre.image.ny()) - 1) / 2.0);
    Image mean, sd;
    LocalMeanStd(pre.image, radius, &mean, &sd, opt.threads);
    std::vector<Coordinate> kept;
    for (const auto& p : found) {
      const int x = static_cast<int>(p.x), y = static_cast<int>(p.y);
      if ((check_std && sd(x, y) > opt.max_stddev_noise) || (check_mean && mean(x, y) < opt.min_avg_noise))
        ++r.rejected_bad_region;
      else
        kept.push_back(p);
    }
    found.swap(kept);
  }
  if (opt.max_picks > 0 && static_cast<int>(found.size()) > opt.max_picks) found.resize(opt.max_picks);
  for (auto& p : found) {
    p.x = pre.ToOriginal(p.x);
    p.y = pre.ToOriginal(p.y);
    p.micrograph = input.name;
  }
  r.picks = std::move(found);
  r.seconds = NowSeconds() - t1;
}

PickResult PickMicrograph(const Image& micrograph, const MicrographInput& input, ScoreMapper* mapper,
                          const PickOptions& opt) {
  PickResult r = PreprocessForPick(micrograph, input, opt);
  ScoreAndFindPeaks(&r, input, mapper, opt);
  return r;
}

namespace {

// One micrograph travelling through the pick pipeline.
struct PickJob {
  std::size_t index = 0;
  PickRunRecord record;
  Image image;
  PickResult result;
};

PickJob ReadPickJob(std::size_t index, const MicrographInput& input) {
  PickJob job;
  job.index = index;
  job.record.input = input;
  const double t0 = NowSeconds();
  MicrographInfo info;
  job.image = ReadMicrograph(input.path, &info);
  if (job.record.input.pixel_size <= 0) job.record.input.pixel_size = info.pixel_size;
  if (job.record.input.pixel_size <= 0)
    throw InvalidInputError(input.path + ": no pixel size in the file; give --pixel-size");
  job.record.read_seconds = NowSeconds() - t0;
  return job;
}

void PreprocessPickJob(PickJob* job, const PickOptions& opt) {
  job->result = PreprocessForPick(job->image, job->record.input, opt);
  job->image = Image();  // the raw micrograph is not needed any more
  job->record.preprocess_seconds = job->result.preprocess_seconds;
}

void ScorePickJob(PickJob* job, ScoreMapper* mapper, const PickOptions& opt) {
  ScoreAndFindPeaks(&job->result, job->record.input, mapper, opt);
  job->result.score = Image();
  job->record.pick_seconds = job->result.seconds;
}

PickRunRecord WritePickJob(PickJob* job, const PickOptions& opt, const PickRunOptions& run) {
  const double t0 = NowSeconds();
  const MicrographInput& in = job->record.input;
  const std::string autopick = AutopickPath(run.out, in);
  CreateDirectories(ParentDir(autopick));
  WriteCoordinates(autopick, job->result.picks);
  if (run.overlays) {
    const std::string png =
        JoinPath(JoinPath(run.out, "overlays"), (in.key.empty() ? MicrographKey(in.name) : in.key) + ".png");
    CreateDirectories(ParentDir(png));
    WritePickOverlay(png, job->result.preprocessed, job->result.picks, opt.diameter / 2 / in.pixel_size);
  }
  PickRunRecord rec = std::move(job->record);
  rec.picks = std::move(job->result.picks);
  rec.rejected_bad_region = job->result.rejected_bad_region;
  rec.threshold = job->result.threshold;
  rec.working_pixel_size = job->result.preprocessed.pixel_size;
  rec.write_seconds = NowSeconds() - t0;
  return rec;
}

}  // namespace

std::vector<PickRunRecord> PickMicrographs(const std::vector<MicrographInput>& inputs, ScoreMapper* mapper,
                                           const PickOptions& opt, const PickRunOptions& run) {
  opt.Check();
  CreateDirectories(run.out);
  if (run.overlays) CreateDirectories(JoinPath(run.out, "overlays"));
  ProgressOptions progress_options;
  progress_options.unit = "micrographs";
  Progress progress("pick", inputs.size(), progress_options);
  std::vector<PickRunRecord> records;
  records.reserve(inputs.size());
  if (!run.pipelined) {
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      PickJob job = ReadPickJob(i, inputs[i]);
      PreprocessPickJob(&job, opt);
      ScorePickJob(&job, mapper, opt);
      records.push_back(WritePickJob(&job, opt, run));
      progress.Advance();
    }
    progress.Finish();
    return records;
  }
  // Each stage is one thread and each queue FIFO, so micrographs stay in input order.
  BoundedQueue<PickJob> read(run.queue_capacity), preprocessed(run.queue_capacity), scored(run.queue_capacity);
  auto cancel = [&] {
    read.Cancel();
    preprocessed.Cancel();
    scored.Cancel();
  };
  PipelineStages stages;
  stages.Add(
      [&] {
        for (std::size_t i = 0; i < inputs.size(); ++i)
          if (!read.Push(ReadPickJob(i, inputs[i]))) return;
        read.Close();
      },
      cancel);
  stages.Add(
      [&] {
        while (std::optional<PickJob> job = read.Pop()) {
          PreprocessPickJob(&*job, opt);
          if (!preprocessed.Push(std::move(*job))) return;
        }
        preprocessed.Close();
      },
      cancel);
  stages.Add(
      [&] {
        while (std::optional<PickJob> job = preprocessed.Pop()) {
          ScorePickJob(&*job, mapper, opt);
          if (!scored.Push(std::move(*job))) return;
        }
        scored.Close();
      },
      cancel);
  stages.Add(
      [&] {
        while (std::optional<PickJob> job = scored.Pop()) {
          EMKIT_CHECK(job->index == records.size(), "pick pipeline out of order");
          records.push_back(WritePickJob(&*job, opt, run));
          progress.Advance();
        }
      },
      cancel);
  stages.Join();
  progress.Finish();
  EMKIT_CHECK(records.size() == inputs.size(), "pick pipeline lost micrographs");
  return records;
}

std::string MicrographKey(const std::string& name) {
  std::string base = StripExtension(Basename(name));
  const std::string suffix = "_autopick";
  if (base.size() > suffix.size() && base.compare(base.size() - suffix.size(), suffix.size(), suffix) == 0)
    base.resize(base.size() - suffix.size());
  return base;
}

std::string AutopickPath(const std::string& dir, const std::string& micrograph_name) {
  return JoinPath(dir, MicrographKey(micrograph_name) + "_autopick.star");
}

void WriteCombinedCoordinates(const std::string& path, const std::vector<std::string>& micrographs,
                              const std::vector<std::vector<Coordinate>>& picks) {
  EMKIT_CHECK(micrographs.size() == picks.size(), "one pick list per micrograph");
  StarFile f;
  f.version = 30001;
  StarTable t("particles");
  for (const char* l : {"rlnMicrographName", "rlnCoordinateX", "rlnCoordinateY", "rlnAutopickFigureOfMerit",
                        "rlnClassNumber", "rlnAnglePsi"})
    t.AddColumn(l);
  for (std::size_t m = 0; m < micrographs.size(); ++m)
    for (const auto& c : picks[m])
      t.AddRow({micrographs[m], FormatStarNumber(c.x), FormatStarNumber(c.y), FormatStarNumber(c.fom),
                std::to_string(c.class_number), FormatStarNumber(c.psi)});
  f.Add(std::move(t));
  WriteStar(path, f);
}

namespace {
std::vector<std::string> KeyParts(const std::string& key) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t slash; (slash = key.find('/', start)) != std::string::npos; start = slash + 1)
    parts.push_back(key.substr(start, slash - start));
  parts.push_back(key.substr(start));
  return parts;
}
// Components that match from the end when one key is a trailing part of the other, else 0.
std::size_t TrailingMatch(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 1; i <= n; ++i)
    if (a[a.size() - i] != b[b.size() - i]) return 0;
  return n;
}
}  // namespace

int CoordinateCollection::FindIndex(const std::string& micrograph) const {
  const std::vector<std::string> want = KeyParts(MicrographPathKey(micrograph));
  int best = -1, tie = -1;
  std::size_t best_len = 0;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    // The file names first (no allocation): thousands of micrographs x thousands of keys.
    const std::string& k = keys[i];
    const std::size_t slash = k.rfind('/'), from = slash == std::string::npos ? 0 : slash + 1;
    if (k.compare(from, std::string::npos, want.back()) != 0) continue;
    const std::size_t len = TrailingMatch(want, KeyParts(k));
    if (len == 0) continue;
    if (len > best_len) {
      best = static_cast<int>(i), best_len = len, tie = -1;
    } else if (len == best_len) {
      tie = static_cast<int>(i);
    }
  }
  if (tie >= 0) {
    auto from = [&](int i) { return i < static_cast<int>(sources.size()) ? " (" + sources[i] + ")" : std::string(); };
    throw InvalidInputError("micrograph " + micrograph + ": coordinates '" + keys[best] + "'" + from(best) + " and '" +
                            keys[tie] + "'" + from(tie) + " match it equally; name the coordinates by folder");
  }
  return best;
}

const std::vector<Coordinate>* CoordinateCollection::Find(const std::string& micrograph) const {
  const int i = FindIndex(micrograph);
  return i < 0 ? nullptr : &coords[i];
}

CoordinateCollection ReadCoordinateCollection(const std::string& path, const CoordinateIoOptions& io) {
  namespace fs = std::filesystem;
  CoordinateCollection out;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::vector<std::string> files;
    // Sub-folders too: a pick job keeps the micrographs' folders when their names clash.
    for (const auto& e : fs::recursive_directory_iterator(path)) {
      const std::string ext = Extension(e.path().string());
      const std::string base = StripExtension(e.path().filename().string());
      const bool decoys = base.size() > 7 && base.compare(base.size() - 7, 7, "_decoys") == 0;
      const bool relion_suffix = base.rfind("coords_suffix", 0) == 0;  // names the micrographs STAR
      if (e.is_regular_file() && !decoys && !relion_suffix &&
          (ext == ".star" || ext == ".box" || ext == ".csv" || ext == ".txt"))
        files.push_back(e.path().string());
    }
    std::sort(files.begin(), files.end());
    // A pick job's folder: only its per-micrograph *_autopick files, not the combined STAR.
    std::vector<std::string> autopick;
    for (const auto& f : files)
      if (StripExtension(Basename(f)) != MicrographKey(f)) autopick.push_back(f);
    if (!autopick.empty()) files.swap(autopick);
    if (files.empty()) throw InvalidInputError(path + ": folder holds no coordinate files (.star/.box/.csv/.txt)");
    for (const auto& f : files) {
      const std::string rel = fs::path(f).lexically_relative(path).parent_path().string();
      out.keys.push_back(rel.empty() ? MicrographKey(f) : rel + "/" + MicrographKey(f));
      out.sources.push_back(f);
      out.coords.push_back(ReadCoordinates(f, io));
    }
    return out;
  }
  if (!FileExists(path)) throw IoError(path + ": no such file or folder");
  // A single file: combined STAR with rlnMicrographName, Topaz with image names, or the
  // coordinates of one micrograph (keyed by the file's name).
  std::vector<Coordinate> all;
  bool has_names = false;
  if (Extension(path) == ".star") {
    StarFile f = ReadStar(path);
    for (const auto& b : f.blocks)
      if (b.is_loop() && b.Has("rlnMicrographName") && b.Has("rlnCoordinateX")) {
        has_names = true;
        for (std::size_t r = 0; r < b.num_rows(); ++r) {
          Coordinate c;
          c.micrograph = b.Get(r, "rlnMicrographName");
          c.x = b.GetDouble(r, "rlnCoordinateX");
          c.y = b.GetDouble(r, "rlnCoordinateY");
          c.fom = b.GetDouble(r, "rlnAutopickFigureOfMerit", 0);
          c.class_number = static_cast<int>(b.GetDouble(r, "rlnClassNumber", 0));
          c.psi = b.GetDouble(r, "rlnAnglePsi", 0);
          all.push_back(c);
        }
        break;
      }
  }
  if (!has_names) {
    all = ReadCoordinates(path, io);
    has_names = !all.empty() && !all.front().micrograph.empty();
  }
  if (!has_names) {
    out.keys.push_back(MicrographKey(path));
    out.sources.push_back(path);
    out.coords.push_back(std::move(all));
    return out;
  }
  // Keyed by the whole name (folders kept): a/mic_0001.mrc and b/mic_0001.mrc stay apart.
  std::map<std::string, std::size_t> index;
  for (auto& c : all) {
    const std::string key = MicrographPathKey(c.micrograph);
    auto [it, fresh] = index.emplace(key, out.keys.size());
    if (fresh) {
      out.keys.push_back(key);
      out.sources.push_back(path);
      out.coords.emplace_back();
    }
    out.coords[it->second].push_back(c);
  }
  return out;
}

void WritePickOverlay(const std::string& path, const PreprocessedMicrograph& pre, const std::vector<Coordinate>& picks,
                      double radius_original_px, const std::vector<Coordinate>* truth) {
  std::vector<unsigned char> grey = ToGrey8(pre.image, 0.5, 99.5);
  cv::Mat g(pre.image.ny(), pre.image.nx(), CV_8U, grey.data()), full, rgb;
  // At the micrograph's own size, so that picture pixels are micrograph pixels.
  const int nx = pre.original_nx > 0 ? pre.original_nx : pre.image.nx();
  const int ny = pre.original_ny > 0 ? pre.original_ny : pre.image.ny();
  cv::resize(g, full, cv::Size(nx, ny), 0, 0, cv::INTER_LINEAR);
  cv::cvtColor(full, rgb, cv::COLOR_GRAY2BGR);
  const int r = std::max(2, static_cast<int>(std::lround(radius_original_px)));
  const int thick = std::max(1, nx / 512);
  const cv::Scalar green(0, 220, 0), red(0, 0, 255);
  if (truth)
    for (const auto& c : *truth)
      cv::circle(rgb, cv::Point(int(std::lround(c.x)), int(std::lround(c.y))), r + thick, red, thick, cv::LINE_AA);
  for (const auto& c : picks)
    cv::circle(rgb, cv::Point(int(std::lround(c.x)), int(std::lround(c.y))), r, green, thick, cv::LINE_AA);
  // Legend, top left: what the circles are.
  const double font = std::max(0.5, nx / 1400.0);
  const int line = static_cast<int>(std::lround(28 * font)), pad = line / 3;
  std::vector<std::pair<std::string, cv::Scalar>> entries = {
      {std::to_string(picks.size()) + " picks (circle: particle diameter)", green}};
  if (truth) entries.push_back({std::to_string(truth->size()) + " truth (outer circles)", red});
  int width = 0;
  for (const auto& e : entries)
    width = std::max(width, cv::getTextSize(e.first, cv::FONT_HERSHEY_SIMPLEX, font, thick, nullptr).width);
  cv::rectangle(rgb, {0, 0}, {3 * pad + line + width, pad + line * static_cast<int>(entries.size()) + pad},
                cv::Scalar(0, 0, 0), cv::FILLED);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const int y = pad + line * static_cast<int>(i) + line / 2;
    cv::circle(rgb, {pad + line / 2, y}, line / 3, entries[i].second, thick + 1, cv::LINE_AA);
    cv::putText(rgb, entries[i].first, {2 * pad + line, y + line / 4}, cv::FONT_HERSHEY_SIMPLEX, font,
                cv::Scalar(255, 255, 255), thick, cv::LINE_AA);
  }
  std::vector<unsigned char> png;
  if (!cv::imencode(".png", rgb, png)) throw IoError(path + ": cannot encode PNG");
  WriteBinaryFile(path, png);
}

}  // namespace emkit
