#include "pipeline/bundle.h"

#include <sys/stat.h>
#include <toml++/toml.h>

#include <filesystem>
#include <map>
#include <set>

#include "core/error.h"
#include "core/files.h"
#include "io/star.h"
#include "pipeline/schedule.h"

namespace emkit {
namespace fs = std::filesystem;
namespace {

bool IsDataFile(const std::string& path) {
  static const std::set<std::string> ext = {".mrc", ".mrcs", ".tif", ".tiff", ".png", ".jpg", ".jpeg", ".star",
                                            ".eer", ".st",   ".box", ".csv",  ".txt", ".pt",  ".map"};
  return ext.count(Extension(path)) > 0;
}

class Bundler {
 public:
  Bundler(fs::path project, fs::path out) : project_(std::move(project)), out_(std::move(out)) {}

  // Where a file of the project (or outside it) goes in the bundle, relative to it.
  std::string Place(const fs::path& file) const {
    const fs::path rel = file.lexically_relative(project_);
    if (!rel.empty() && *rel.begin() != "..") return rel.lexically_normal().string();
    return "external/" + file.filename().string();
  }

  // Copies a file once; returns its path in the bundle.
  std::string CopyFile(const fs::path& file) {
    const fs::path src = fs::weakly_canonical(file);
    if (auto it = copied_.find(src); it != copied_.end()) return it->second;
    const std::string rel = Place(src);
    const fs::path dst = out_ / rel;
    fs::create_directories(dst.parent_path());
    fs::copy_file(src, dst, fs::copy_options::overwrite_existing);
    result.files++;
    result.bytes += fs::file_size(dst);
    copied_[src] = rel;
    return rel;
  }

  // A STAR input: the files its rows name are copied and named relative to the bundle.
  std::string CopyStar(const fs::path& file) {
    const fs::path src = fs::weakly_canonical(file);
    if (auto it = copied_.find(src); it != copied_.end()) return it->second;
    StarFile f = ReadStar(src.string());
    const fs::path star_dir = src.parent_path();
    for (StarTable& t : f.blocks)
      for (const std::string& label : std::vector<std::string>(t.labels()))
        for (std::size_t row = 0; row < t.num_rows(); ++row) {
          const std::string value = t.Get(row, label);
          const auto at = value.find('@');
          const std::string prefix = at == std::string::npos ? "" : value.substr(0, at + 1);
          const std::string name = value.substr(prefix.size());
          if (name.empty() || !IsDataFile(name)) continue;
          // As emkit reads it: from the project (working) folder, else beside the STAR file.
          fs::path path = fs::path(name).is_absolute() ? fs::path(name) : project_ / name;
          std::error_code ec;
          if (!fs::is_regular_file(path, ec) && !fs::path(name).is_absolute()) path = star_dir / name;
          if (!fs::is_regular_file(path, ec)) continue;
          const std::string rel = CopyFile(path);
          if (rel != name) {
            t.Set(row, label, prefix + rel);
            result.rewritten_names++;
          }
        }
    const std::string rel = Place(src);
    fs::create_directories((out_ / rel).parent_path());
    WriteStar((out_ / rel).string(), f);
    result.files++;
    result.bytes += fs::file_size(out_ / rel);
    result.star_files++;
    copied_[src] = rel;
    return rel;
  }

  std::string CopyInput(const fs::path& path) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<fs::path> files;
      for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::recursive_directory_iterator();
           it.increment(ec))
        if (it->is_regular_file()) files.push_back(it->path());
      for (const auto& f : files) CopyFile(f);
      return Place(fs::weakly_canonical(path));
    }
    return Extension(path.string()) == ".star" ? CopyStar(path) : CopyFile(path);
  }

  BundleResult result;

 private:
  fs::path project_, out_;
  std::map<fs::path, std::string> copied_;
};

std::string Substitute(std::string text, const std::string& key, const std::string& value) {
  for (std::size_t p = text.find(key); p != std::string::npos; p = text.find(key, p + value.size()))
    text.replace(p, key.size(), value);
  return text;
}

}  // namespace

BundleResult BundleJob(const std::string& job_dir, const std::string& out_dir) {
  const std::string job_file = JoinPath(job_dir, "job.toml");
  if (!FileExists(job_file))
    throw InvalidInputError(job_dir + ": not a job folder of an emkit pipeline project (no job.toml)");
  toml::table t;
  try {
    t = toml::parse_file(job_file);
  } catch (const toml::parse_error& e) {
    throw IoError(Where(job_file, static_cast<long>(e.source().begin.line)) + ": " + std::string(e.description()));
  }
  const toml::array* args = t["args"].as_array();
  if (!args) throw InvalidInputError(job_file + ": no args (written by an older emkit pipeline: run the job again)");
  const std::string type = t["type"].value_or(std::string());
  const fs::path job = fs::weakly_canonical(job_dir);
  const fs::path project = job.parent_path().parent_path();
  const std::string job_rel = job.lexically_relative(project).string();
  std::error_code ec;
  if (fs::exists(out_dir, ec) && !fs::is_empty(out_dir, ec))
    throw InvalidInputError(out_dir + ": the bundle folder exists and is not empty");
  const fs::path out = fs::absolute(out_dir).lexically_normal();
  if (!out.lexically_relative(project).empty() && *out.lexically_relative(project).begin() != "..")
    throw InvalidInputError(out_dir + ": the bundle folder lies inside the project " + project.string());
  fs::create_directories(out);
  Bundler b(project, out);
  std::vector<std::string> words;
  for (auto&& a : *args) words.push_back(a.value_or(std::string()));
  const bool external = type == "external";
  std::string command;
  if (external) {
    command = "bash -c " + ShellQuote(Substitute(Substitute(words.empty() ? "" : words[0], "{out}", job_rel), "{emkit}",
                                                 "${EMKIT:-emkit}"));
  } else {
    for (std::size_t i = 0; i < words.size(); ++i) {
      std::string w = words[i];
      const bool output = i > 0 && (words[i - 1] == "-o" || words[i - 1] == "--out" || words[i - 1] == "--o");
      if (!output && !w.empty() && w[0] != '-') {
        const fs::path p = fs::path(w).is_absolute() ? fs::path(w) : project / w;
        if (fs::exists(p, ec) && w.find("..") == std::string::npos)
          w = b.CopyInput(p);
        else if (fs::exists(p, ec))
          w = b.CopyInput(p);
      }
      command += (command.empty() ? "" : " ") + ShellQuote(w);
    }
    command = "${EMKIT:-emkit} " + command;
  }
  // The job file, its options and notes (not its outputs) in job/: the job's own folder stays empty
  // for its re-run.
  fs::create_directories(out / "job");
  for (const auto& e : fs::directory_iterator(job)) {
    const std::string n = e.path().filename().string();
    if (n == "job.toml" || n == "note.txt" ||
        (n.rfind("emkit_", 0) == 0 && n.size() > 13 && n.compare(n.size() - 13, 13, "_options.toml") == 0)) {
      fs::copy_file(e.path(), out / "job" / n);
      b.result.files++;
      b.result.bytes += fs::file_size(out / "job" / n);
    }
  }
  const std::string rerun = (out / "rerun.sh").string();
  WriteTextFile(rerun, "#!/bin/bash\n# Re-runs " + job_rel + " (" + type +
                           ") in this folder; EMKIT: the emkit binary.\n" +
                           "set -euo pipefail\ncd \"$(dirname \"$0\")\"\n" + command + " \"$@\"\n");
  ::chmod(rerun.c_str(), 0755);
  b.result.files++;
  b.result.bytes += fs::file_size(rerun);
  b.result.dir = out.string();
  return b.result;
}

}  // namespace emkit
