// The rule every command that writes a folder follows.
//
// A job folder records the command that made it: emkit_<command>_options.toml (effective
// options and command line), emkit_<command>.files (every file the job wrote, one per line,
// relative to the folder) and, once everything is written, emkit_<command>.done. A job without
// the .done marker is recognisably incomplete (interrupted or failed).
//
// A command refuses a folder that holds another job's results (any emkit job, or files the
// command itself writes) unless --overwrite, which first removes that job's files (those its
// .files list names, its markers and the files matching the command's output patterns; never
// other files, never inputs). An input inside the output folder that the job would write or
// remove is always refused. --continue / --resume write into their own job's folder, keep its
// options file and append the continuation's command line to it.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

namespace emkit {

struct JobFolderOptions {
  std::string dir;
  std::string command;                       // e.g. "class2d" (file names emkit_class2d_*)
  std::vector<std::string> inputs;           // files or folders the job reads
  std::vector<std::string> output_patterns;  // what the command writes, relative glob, e.g. "run_it*"
  bool overwrite = false;                    // --overwrite
  bool resume = false;                       // --continue / --resume
  std::string resume_from;                   // the file continued from (may be empty)
  std::string options_text;                  // effective options (TOML) with the command line
  std::string command_line;                  // for the continuation note
};

class JobFolder {
 public:
  // Checks `dir` against the rule, clears it on --overwrite, creates it, writes the options and
  // starts recording the files written under it (until Complete() or destruction). Throws
  // InvalidInputError naming the folder and what is in the way.
  explicit JobFolder(const JobFolderOptions& options);
  // Without Complete(): a job that wrote no output (its input was refused) takes its options,
  // its file list and the folders it created back, so a refused job leaves nothing behind.
  ~JobFolder();
  JobFolder(const JobFolder&) = delete;
  JobFolder& operator=(const JobFolder&) = delete;

  // Writes emkit_<command>.done: every output of the job is in place.
  void Complete();
  const std::string& dir() const { return dir_; }
  // Path of the folder's marker files.
  static std::string OptionsFile(const std::string& dir, const std::string& command);
  static std::string FilesList(const std::string& dir, const std::string& command);
  static std::string DoneMarker(const std::string& dir, const std::string& command);
  // The emkit commands with a job in `dir` (from their marker files), sorted.
  static std::set<std::string> JobsIn(const std::string& dir);

 private:
  struct Recorder;
  std::string dir_, command_;
  bool created_ = false, resumed_ = false;
  std::shared_ptr<Recorder> recorder_;
};

}  // namespace emkit
