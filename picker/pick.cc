#include "picker/pick.h"

#include <glob.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <optional>

#include "core/bounded_queue.h"
#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "io/micrograph.h"
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
      in.path = m.name;
      if (!FileExists(in.path) && FileExists(JoinPath(ParentDir(star), m.name)))
        in.path = JoinPath(ParentDir(star), m.name);
      in.pixel_size = pixel_size > 0 ? pixel_size : set.Optics(m.optics_group).pixel_size;
      in.has_ctf = m.has_ctf;
      in.ctf = m.ctf;
      out.push_back(in);
    }
    if (out.empty()) throw InvalidInputError(star + ": no micrographs listed");
    return out;
  }
  for (const auto& arg : inputs) {
    const std::vector<std::string> paths = HasGlobChars(arg) ? ExpandGlob(arg) : std::vector<std::string>{arg};
    for (const auto& p : paths) {
      MicrographInput in;
      in.path = in.name = p;
      in.pixel_size = pixel_size;
      out.push_back(in);
    }
  }
  return out;
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
  WriteCoordinates(AutopickPath(run.out, in.name), job->result.picks);
  if (run.overlays)
    WritePickOverlay(JoinPath(JoinPath(run.out, "overlays"), MicrographKey(in.name) + ".png"), job->result.preprocessed,
                     job->result.picks, opt.diameter / 2 / in.pixel_size);
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
  Progress progress("pick", inputs.size());
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

const std::vector<Coordinate>* CoordinateCollection::Find(const std::string& micrograph) const {
  const std::string key = MicrographKey(micrograph);
  for (std::size_t i = 0; i < keys.size(); ++i)
    if (keys[i] == key) return &coords[i];
  return nullptr;
}

CoordinateCollection ReadCoordinateCollection(const std::string& path, const CoordinateIoOptions& io) {
  namespace fs = std::filesystem;
  CoordinateCollection out;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(path)) {
      const std::string ext = Extension(e.path().string());
      const std::string base = StripExtension(e.path().filename().string());
      const bool decoys = base.size() > 7 && base.compare(base.size() - 7, 7, "_decoys") == 0;
      if (e.is_regular_file() && !decoys && (ext == ".star" || ext == ".box" || ext == ".csv" || ext == ".txt"))
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
      out.keys.push_back(MicrographKey(f));
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
    out.coords.push_back(std::move(all));
    return out;
  }
  for (auto& c : all) {
    const std::string key = MicrographKey(c.micrograph);
    auto it = std::find(out.keys.begin(), out.keys.end(), key);
    if (it == out.keys.end()) {
      out.keys.push_back(key);
      out.coords.emplace_back();
      it = out.keys.end() - 1;
    }
    out.coords[it - out.keys.begin()].push_back(c);
  }
  return out;
}

void WritePickOverlay(const std::string& path, const PreprocessedMicrograph& pre, const std::vector<Coordinate>& picks,
                      double radius_original_px, const std::vector<Coordinate>* truth) {
  std::vector<unsigned char> grey = ToGrey8(pre.image, 0.5, 99.5);
  cv::Mat g(pre.image.ny(), pre.image.nx(), CV_8U, grey.data());
  cv::Mat rgb;
  cv::cvtColor(g, rgb, cv::COLOR_GRAY2BGR);
  const int r = std::max(2, static_cast<int>(std::lround(pre.ToBinned(radius_original_px))));
  const int thick = std::max(1, pre.image.nx() / 512);
  if (truth)
    for (const auto& c : *truth)
      cv::circle(rgb, cv::Point(int(std::lround(pre.ToBinned(c.x))), int(std::lround(pre.ToBinned(c.y)))), r + thick,
                 cv::Scalar(0, 0, 255), thick, cv::LINE_AA);
  for (const auto& c : picks)
    cv::circle(rgb, cv::Point(int(std::lround(pre.ToBinned(c.x))), int(std::lround(pre.ToBinned(c.y)))), r,
               cv::Scalar(0, 220, 0), thick, cv::LINE_AA);
  std::vector<unsigned char> png;
  if (!cv::imencode(".png", rgb, png)) throw IoError(path + ": cannot encode PNG");
  WriteBinaryFile(path, png);
}

}  // namespace emkit
