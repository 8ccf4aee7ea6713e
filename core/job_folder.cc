#include "core/job_folder.h"

#include <fnmatch.h>
#include <glob.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "core/log.h"

namespace fs = std::filesystem;

namespace emkit {
namespace {

fs::path Canonical(const std::string& p) {
  std::error_code ec;
  fs::path c = fs::weakly_canonical(fs::absolute(p), ec);
  return ec ? fs::absolute(p).lexically_normal() : c;
}

// `p` relative to `dir` when it lies inside it, else empty.
std::string Inside(const fs::path& p, const fs::path& dir) {
  const fs::path rel = p.lexically_relative(dir);
  if (rel.empty() || rel == "." || *rel.begin() == "..") return "";
  return rel.string();
}

bool IsTemp(const std::string& rel) { return rel.find(".tmp.") != std::string::npos; }

bool IsMarker(const std::string& rel, std::string* command) {
  if (rel.find('/') != std::string::npos || rel.rfind("emkit_", 0) != 0 || IsTemp(rel)) return false;
  for (const std::string suffix : {"_options.toml", ".files", ".done"}) {
    if (rel.size() > 6 + suffix.size() && rel.compare(rel.size() - suffix.size(), suffix.size(), suffix) == 0) {
      if (command) *command = rel.substr(6, rel.size() - 6 - suffix.size());
      return true;
    }
  }
  return false;
}

bool Matches(const std::string& rel, const std::vector<std::string>& patterns) {
  for (const std::string& p : patterns)
    if (fnmatch(p.c_str(), rel.c_str(), FNM_PATHNAME) == 0) return true;
  return false;
}

// Every file under dir, relative to it (symbolic links are not followed).
std::vector<std::string> FilesUnder(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (!it->is_directory()) out.push_back(it->path().lexically_relative(dir).string());
  std::sort(out.begin(), out.end());
  return out;
}

// The files a job's .files list names, relative to dir (entries leaving dir are ignored).
std::vector<std::string> ListedFiles(const fs::path& dir, const std::string& command) {
  std::vector<std::string> out;
  const std::string list = JobFolder::FilesList(dir.string(), command);
  if (!FileExists(list)) return out;
  std::istringstream in(ReadTextFile(list));
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '/') continue;
    const std::string rel = Inside((dir / line).lexically_normal(), dir);
    if (!rel.empty()) out.push_back(rel);
  }
  return out;
}

// The input paths as files (glob patterns expanded; folders stand for themselves).
std::vector<fs::path> InputFiles(const std::vector<std::string>& inputs) {
  std::vector<fs::path> out;
  for (const std::string& in : inputs) {
    if (in.empty()) continue;
    if (in.find_first_of("*?[") != std::string::npos && !FileExists(in)) {
      glob_t g{};
      if (glob(in.c_str(), 0, nullptr, &g) == 0)
        for (std::size_t i = 0; i < g.gl_pathc; ++i) out.push_back(Canonical(g.gl_pathv[i]));
      globfree(&g);
    } else {
      out.push_back(Canonical(in));
    }
  }
  return out;
}

std::string Joined(const std::set<std::string>& s) {
  std::string out;
  for (const std::string& x : s) out += (out.empty() ? "" : ", ") + x;
  return out;
}

std::string NowUtc() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

// Appends each new file written under the folder to its .files list, as it is renamed into place.
struct JobFolder::Recorder {
  fs::path dir;
  std::string list_path;
  std::set<std::string> listed;
  std::mutex mutex;
  void Note(const std::string& path) {
    const std::string rel = Inside(Canonical(path), dir);
    if (rel.empty() || IsTemp(rel) || IsMarker(rel, nullptr)) return;
    std::lock_guard<std::mutex> lock(mutex);
    if (!listed.insert(rel).second) return;
    std::FILE* f = std::fopen(list_path.c_str(), "a");
    if (!f) throw IoError(list_path + ": cannot append the job's file list");
    const bool ok = std::fprintf(f, "%s\n", rel.c_str()) > 0;
    if (std::fclose(f) != 0 || !ok) throw IoError(list_path + ": write failed");
  }
};

std::string JobFolder::OptionsFile(const std::string& dir, const std::string& command) {
  return JoinPath(dir, "emkit_" + command + "_options.toml");
}
std::string JobFolder::FilesList(const std::string& dir, const std::string& command) {
  return JoinPath(dir, "emkit_" + command + ".files");
}
std::string JobFolder::DoneMarker(const std::string& dir, const std::string& command) {
  return JoinPath(dir, "emkit_" + command + ".done");
}

std::set<std::string> JobFolder::JobsIn(const std::string& dir) {
  std::set<std::string> jobs;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::string command;
    if (IsMarker(it->path().filename().string(), &command)) jobs.insert(command);
  }
  return jobs;
}

JobFolder::JobFolder(const JobFolderOptions& o) : dir_(o.dir), command_(o.command) {
  if (o.dir.empty()) throw InvalidInputError("emkit " + o.command + ": no output folder given");
  const fs::path dir = Canonical(o.dir);
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    throw IoError(o.dir + ": the output folder exists and is not a folder");
  const bool exists = fs::is_directory(dir, ec);
  const std::set<std::string> jobs = exists ? JobsIn(dir.string()) : std::set<std::string>();
  std::vector<std::string> files = exists ? FilesUnder(dir) : std::vector<std::string>();
  std::set<std::string> listed;  // what the jobs here wrote, by their lists
  for (const std::string& j : jobs)
    for (const std::string& f : ListedFiles(dir, j)) listed.insert(f);
  std::vector<std::string> ours, temps;  // files this command writes, leftover temporary files
  for (const std::string& f : files) {
    if (IsTemp(f))
      temps.push_back(f);
    else if (!IsMarker(f, nullptr) && Matches(f, o.output_patterns))
      ours.push_back(f);
  }
  const std::string in_dir_resume = o.resume_from.empty() ? "" : Inside(Canonical(o.resume_from), dir);
  const bool own_job =
      jobs.empty() || (jobs == std::set<std::string>{o.command} && (o.resume_from.empty() || !in_dir_resume.empty()));
  const bool resume = o.resume && own_job;

  // Inputs are never written over or removed.
  const std::vector<fs::path> inputs = InputFiles(o.inputs);
  if (!resume)
    for (const fs::path& in : inputs) {
      if (in == dir) continue;  // reading a folder's other files while writing beside them is fine
      const std::string rel = Inside(in, dir);
      if (rel.empty()) continue;
      if (listed.count(rel) || Matches(rel, o.output_patterns) || IsMarker(rel, nullptr))
        throw InvalidInputError(in.string() + ": an input of emkit " + o.command + " lies in its output folder " +
                                o.dir + ", where the job would write or remove it; choose another output folder");
    }

  if (!resume && (!jobs.empty() || !ours.empty())) {
    const std::string what =
        !jobs.empty()
            ? "the results of an earlier emkit " + Joined(jobs) + " job (" +
                  (jobs.count(o.command) ? OptionsFile(o.dir, o.command) : OptionsFile(o.dir, *jobs.begin())) + ")"
            : "files emkit " + o.command + " writes (" + ours.front() + ", " + std::to_string(ours.size()) +
                  " in all) from an earlier run";
    if (!o.overwrite)
      throw InvalidInputError(
          o.dir + ": the output folder holds " + what +
          "; choose another folder, or give --overwrite to remove that job's files first" +
          (o.resume ? " (--continue/--resume write only into the folder of the job they continue)" : ""));
    // --overwrite: the jobs' listed files, their markers, this command's files, leftover temporaries.
    std::set<std::string> remove(listed.begin(), listed.end());
    remove.insert(ours.begin(), ours.end());
    remove.insert(temps.begin(), temps.end());
    for (const std::string& f : files)
      if (IsMarker(f, nullptr)) remove.insert(f);
    // Nothing removed may be an input or lie in an input folder (extract -c picks -o picks).
    for (const std::string& rel : remove) {
      const fs::path p = Canonical((dir / rel).string());
      for (const fs::path& in : inputs)
        if (p == in || !Inside(p, in).empty())
          throw InvalidInputError(o.dir + ": --overwrite would remove " + p.string() + ", an input of emkit " +
                                  o.command + " (" + in.string() + "); choose another output folder");
    }
    std::set<fs::path> parents;
    int removed = 0;
    for (const std::string& rel : remove) {
      const fs::path p = dir / rel;
      if (fs::remove(p, ec)) ++removed;
      if (ec) throw IoError(p.string() + ": --overwrite cannot remove it: " + ec.message());
      for (fs::path q = p.parent_path(); q != dir && !Inside(q, dir).empty(); q = q.parent_path()) parents.insert(q);
    }
    // Folders the job made and that are now empty, deepest first.
    for (auto it = parents.rbegin(); it != parents.rend(); ++it)
      if (fs::is_empty(*it, ec) && !ec) fs::remove(*it, ec);
    LOG_INFO("--overwrite: removed " << removed << " files of the earlier job in " << o.dir);
  } else if (resume) {
    for (const std::string& t : temps) fs::remove(dir / t, ec);
  }

  created_ = !exists;
  resumed_ = resume;
  CreateDirectories(o.dir);
  const std::string options = OptionsFile(o.dir, o.command);
  if (resume && FileExists(options)) {
    // The original command stays; the continuation is appended as comments (the file stays TOML).
    std::string text = ReadTextFile(options);
    if (!text.empty() && text.back() != '\n') text += '\n';
    text += "\n# continued " + NowUtc() + ": " + o.command_line + "\n";
    std::istringstream in(o.options_text);
    for (std::string line; std::getline(in, line);) text += "#   " + line + "\n";
    WriteTextFile(options, text);
  } else {
    WriteTextFile(options, o.options_text);
  }
  const std::string done = DoneMarker(o.dir, o.command);
  fs::remove(done, ec);
  if (ec) throw IoError(done + ": cannot remove the completion marker: " + ec.message());

  recorder_ = std::make_shared<Recorder>();
  recorder_->dir = dir;
  recorder_->list_path = FilesList(o.dir, o.command);
  if (resume)
    for (const std::string& f : ListedFiles(dir, o.command)) recorder_->listed.insert(f);
  else
    WriteTextFile(recorder_->list_path, "");
  std::shared_ptr<Recorder> r = recorder_;
  SetOutputObserver([r](const std::string& path) { r->Note(path); });
}

JobFolder::~JobFolder() {
  if (!recorder_) return;
  SetOutputObserver(nullptr);
  if (resumed_ || !recorder_->listed.empty()) return;
  std::error_code ec;
  fs::remove(OptionsFile(dir_, command_), ec);
  fs::remove(recorder_->list_path, ec);
  if (!created_) return;
  // The empty folders the job made, deepest first, then the job folder itself when empty.
  std::vector<fs::path> dirs;
  for (auto it = fs::recursive_directory_iterator(dir_, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (it->is_directory() && !it->is_symlink()) dirs.push_back(it->path());
  for (auto it = dirs.rbegin(); it != dirs.rend(); ++it)
    if (fs::is_empty(*it, ec)) fs::remove(*it, ec);
  if (fs::is_empty(dir_, ec)) fs::remove(dir_, ec);
}

void JobFolder::Complete() {
  if (recorder_) SetOutputObserver(nullptr);
  recorder_.reset();
  WriteTextFile(DoneMarker(dir_, command_), "emkit " + command_ + " completed " + NowUtc() + "\n");
}

}  // namespace emkit
