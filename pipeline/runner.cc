#include "pipeline/runner.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "core/job_folder.h"
#include "io/star.h"
#include "pipeline/relion_pipeline.h"

namespace emkit {
namespace fs = std::filesystem;
namespace {

constexpr const char* kJobFile = "job.toml";

std::string NowUtc() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// 64-bit FNV-1a, as 16 hex digits.
std::string Fnv1a(const std::string& text) {
  unsigned long long h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", h);
  return buf;
}

std::string TomlString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

// What job.toml records.
struct JobRecord {
  bool exists = false;
  std::string state, hash, started, finished, command, host;
  std::string run_id;  // unique per run: later jobs' hashes name the run of each input
  double seconds = 0, cpu_seconds = 0;
  long pid = 0;
  int exit_status = 0;
};

JobRecord ReadRecord(const std::string& dir) {
  JobRecord r;
  const std::string path = JoinPath(dir, kJobFile);
  if (!FileExists(path)) return r;
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    throw IoError(Where(path, static_cast<long>(e.source().begin.line)) + ": " + std::string(e.description()));
  }
  r.exists = true;
  r.state = t["state"].value_or(std::string());
  r.hash = t["hash"].value_or(std::string());
  r.started = t["started"].value_or(std::string());
  r.finished = t["finished"].value_or(std::string());
  r.command = t["command"].value_or(std::string());
  r.seconds = t["seconds"].value_or(0.0);
  r.cpu_seconds = t["cpu_seconds"].value_or(0.0);
  r.pid = t["pid"].value_or(0L);
  r.host = t["host"].value_or(std::string());
  r.run_id = t["run_id"].value_or(std::string());
  r.exit_status = static_cast<int>(t["exit_status"].value_or(0L));
  return r;
}

void WriteRecord(const std::string& dir, const ScheduleJob& job, const Schedule& s, const JobRecord& r) {
  std::ostringstream out;
  out << "# emkit pipeline: job " << job.name << " of " << s.path << " (line " << job.line << ")\n"
      << "name = " << TomlString(job.name) << "\ntype = " << TomlString(job.type)
      << "\ncommand = " << TomlString(r.command) << "\nranks = " << job.ranks << "\nthreads = " << job.threads
      << "\nhash = " << TomlString(r.hash) << "\nstate = " << TomlString(r.state)
      << "\nstarted = " << TomlString(r.started) << "\nfinished = " << TomlString(r.finished)
      << "\nseconds = " << r.seconds << "\ncpu_seconds = " << r.cpu_seconds << "\npid = " << r.pid
      << "\nhost = " << TomlString(r.host) << "\nrun_id = " << TomlString(r.run_id)
      << "\nexit_status = " << r.exit_status << "\n";
  // The command's words (after "emkit"; external: the shell command), paths relative to the project.
  out << "args = [";
  const std::vector<std::string> words = job.external() ? std::vector<std::string>{job.command} : JobArguments(job);
  for (std::size_t i = 0; i < words.size(); ++i) out << (i ? ", " : "") << TomlString(words[i]);
  out << "]\n";
  WriteTextFile(JoinPath(dir, kJobFile), out.str());
}

bool Alive(long pid) { return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM); }

std::string HostName() {
  char name[256] = {0};
  return ::gethostname(name, sizeof name - 1) == 0 ? name : "";
}

// The effective state of a recorded job: a "running" job whose process is gone was killed (a job
// running on another host, under Slurm, cannot be checked from here: it stays "running").
std::string EffectiveState(const JobRecord& r) {
  if (!r.exists) return "not run";
  if (r.state == "running" && (r.host.empty() || r.host == HostName()) && !Alive(r.pid)) return "killed";
  return r.state;
}

// Size and time of a file, or of every file under a folder.
void Fingerprint(const fs::path& p, std::ostringstream& out) {
  std::error_code ec;
  auto one = [&](const fs::path& f) {
    const auto size = fs::file_size(f, ec);
    const auto time = fs::last_write_time(f, ec).time_since_epoch().count();
    out << f.string() << ' ' << size << ' ' << time << '\n';
  };
  if (fs::is_directory(p, ec)) {
    std::vector<fs::path> files;
    for (auto it = fs::recursive_directory_iterator(p, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec))
      if (it->is_regular_file() && files.size() < 100000) files.push_back(it->path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) one(f);
  } else if (fs::exists(p, ec)) {
    one(p);
  }
}

bool InsideAnyJob(const Schedule& s, const std::string& value) {
  for (const auto& j : s.jobs)
    if (value == j.folder || value.rfind(j.folder + "/", 0) == 0) return true;
  return false;
}

std::string Substitute(std::string text, const std::string& key, const std::string& value) {
  for (std::size_t p = text.find(key); p != std::string::npos; p = text.find(key, p + value.size()))
    text.replace(p, key.size(), value);
  return text;
}

// The words of the job's command line, without threads and ranks.
std::vector<std::string> CommandWords(const ScheduleJob& job, const std::string& emkit) {
  if (job.external()) return {"bash", "-c", Substitute(Substitute(job.command, "{out}", job.folder), "{emkit}", emkit)};
  std::vector<std::string> words{emkit};
  for (auto& a : JobArguments(job)) words.push_back(Substitute(Substitute(a, "{out}", job.folder), "{emkit}", emkit));
  return words;
}

std::string Joined(const std::vector<std::string>& words) {
  std::string s;
  for (const auto& w : words) s += (s.empty() ? "" : " ") + ShellQuote(w);
  return s;
}

std::vector<std::string> SplitWords(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

int Threads(const ScheduleJob& job, const PipelineOptions& o) {
  int t = job.threads > 0 ? job.threads : o.threads;
  if (t <= 0) t = static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  return t;
}

// The full command: [mpirun -np N] emkit ... --threads T.
std::vector<std::string> FullCommand(const Schedule& s, const ScheduleJob& job, const PipelineOptions& o,
                                     const std::vector<std::string>& extra) {
  std::vector<std::string> words;
  if (job.ranks > 1) {
    words = SplitWords(s.mpirun);
    words.push_back("-np");
    words.push_back(std::to_string(job.ranks));
  }
  for (const auto& w : CommandWords(job, o.emkit)) words.push_back(w);
  if (!job.external()) {
    words.push_back("--threads");
    words.push_back(std::to_string(Threads(job, o)));
  }
  for (const auto& w : extra) words.push_back(w);
  return words;
}

// Whether the job's outputs are complete: its command's .done marker (or its `out` file).
bool OutputsComplete(const ScheduleJob& job, const std::string& dir, const std::string& project) {
  if (job.external()) return true;
  if (job.has_out) {
    for (const auto& o : job.options)
      if (o.name == "out") return FileExists(JoinPath(project, o.values[0]));
  }
  return FileExists(JobFolder::DoneMarker(dir, job.Command()));
}

// How a failed or killed job continues, when its command can: extra arguments, or none.
std::vector<std::string> Continuation(const ScheduleJob& job, const std::string& dir) {
  std::error_code ec;
  if (job.Command() == "class2d" || job.Command() == "class3d" || job.Command() == "refine3d") {
    std::string last;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
      const std::string n = it->path().filename().string();
      if (n.rfind("run_it", 0) == 0 && n.size() > 15 && n.compare(n.size() - 15, 15, "_optimiser.star") == 0 &&
          n > Basename(last))
        last = JoinPath(job.folder, n);
    }
    if (!last.empty()) return {"--continue", last};
  }
  if (job.Command() == "train" && FileExists(JoinPath(dir, "checkpoint.pt"))) return {"--resume"};
  return {};
}

std::string LastLine(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {
    const auto b = line.find_first_not_of(" \t\r");
    if (b != std::string::npos) last = line.substr(b);
    if (last.rfind("[info] ", 0) == 0) last.erase(0, 7);
  }
  if (last.size() > 100) last = last.substr(0, 97) + "...";
  return last;
}

// The job's main result, one line.
std::string Figure(const ScheduleJob& job, const std::string& dir) {
  try {
    if (job.Command() == "class2d" || job.Command() == "class3d") {
      std::string last;
      std::error_code ec;
      for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
        const std::string n = it->path().filename().string();
        if (n.rfind("run_it", 0) == 0 && n.size() > 11 && n.compare(n.size() - 11, 11, "_model.star") == 0 && n > last)
          last = n;
      }
      if (!last.empty()) {
        const StarFile f = ReadStar(JoinPath(dir, last));
        const StarTable& g = f.Require("model_general");
        std::ostringstream out;
        out << last.substr(0, 9) << ": resolution " << g.Get(0, "rlnCurrentResolution") << " A";
        if (const StarTable* c = f.Find("model_classes")) {
          out << ", classes";
          for (std::size_t i = 0; i < c->num_rows() && i < 12; ++i) {
            char v[16];
            std::snprintf(v, sizeof v, " %.3f", c->GetDouble(i, "rlnClassDistribution"));
            out << v;
          }
        }
        return out.str();
      }
    }
    if (job.Command() == "extract" && FileExists(JoinPath(dir, "particles.star"))) {
      const StarFile f = ReadStar(JoinPath(dir, "particles.star"));
      if (const StarTable* p = f.Find("particles")) return std::to_string(p->num_rows()) + " particles";
    }
  } catch (const Error&) {
  }
  const std::string out = LastLine(JoinPath(dir, "run.out"));
  return out.empty() ? LastLine(JoinPath(dir, "run.err")) : out;
}

// Runs words in `cwd` with stdout/stderr into files; returns the exit status (128 + signal).
int Spawn(double* cpu_seconds, const std::vector<std::string>& words, const std::string& cwd, const std::string& out,
          const std::string& err, int threads) {
  std::cout.flush();
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw IoError("cannot start " + words[0]);
  if (pid == 0) {
    const int fo = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    const int fe = ::open(err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fo < 0 || fe < 0 || ::chdir(cwd.c_str()) != 0) _exit(126);
    ::dup2(fo, 1);
    ::dup2(fe, 2);
    ::setenv("EMKIT_THREADS", std::to_string(threads).c_str(), 1);  // for external jobs
    const int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, 0);
    std::vector<char*> argv;
    for (const auto& w : words) argv.push_back(const_cast<char*>(w.c_str()));
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    std::fprintf(stderr, "emkit pipeline: cannot run %s: %s\n", argv[0], std::strerror(errno));
    _exit(127);
  }
  int status = 0;
  struct rusage usage {};
  while (::wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
  }
  // The job's CPU time (user + system; its processes, mpirun's ranks on this host included).
  *cpu_seconds =
      usage.ru_utime.tv_sec + usage.ru_stime.tv_sec + 1e-6 * (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

void ClearFolder(const std::string& dir) {
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
    fs::remove_all(it->path(), ec);
}

}  // namespace

std::string JobHash(const Schedule& s, const ScheduleJob& job, const std::string& project) {
  std::ostringstream text;
  text << job.type << '\n' << Joined(CommandWords(job, "emkit")) << '\n';
  for (const auto& d : job.depends) {
    const ScheduleJob* dep = s.Find(d);
    const JobRecord r = ReadRecord(JoinPath(project, dep->folder));
    text << "input " << dep->folder << ' ' << r.hash << ' ' << r.run_id << '\n';
  }
  for (const auto& o : job.options)
    for (const auto& v : o.values)
      if (!v.empty() && !InsideAnyJob(s, v) && v.size() < 4096) {
        const fs::path p = v[0] == '/' ? fs::path(v) : fs::path(project) / v;
        std::error_code ec;
        if (fs::exists(p, ec)) Fingerprint(p, text);
      }
  return Fnv1a(text.str());
}

std::vector<JobStatus> PipelineStatus(const Schedule& s, const std::string& project) {
  std::vector<JobStatus> out;
  for (const auto& job : s.jobs) {
    const std::string dir = JoinPath(project, job.folder);
    const JobRecord r = ReadRecord(dir);
    JobStatus st;
    st.name = job.name;
    st.folder = job.folder;
    st.type = job.type;
    st.state = EffectiveState(r);
    st.seconds = r.seconds;
    st.cpu_seconds = r.cpu_seconds;
    st.finished = r.finished;
    st.recorded_hash = r.hash;
    st.hash = JobHash(s, job, project);
    if (st.state == "done" && (st.hash != r.hash || !OutputsComplete(job, dir, project))) st.state = "changed";
    if (r.exists) st.figure = Figure(job, dir);
    out.push_back(st);
  }
  return out;
}

std::string FormatStatus(const std::vector<JobStatus>& status) {
  std::vector<std::vector<std::string>> rows = {{"job", "folder", "type", "state", "runtime", "result"}};
  for (const auto& s : status) {
    char secs[32] = "-";
    if (s.state != "not run") std::snprintf(secs, sizeof secs, "%.1f s (CPU %.0f s)", s.seconds, s.cpu_seconds);
    rows.push_back({s.name, s.folder, s.type, s.state, secs, s.figure});
  }
  std::vector<std::size_t> width(6, 0);
  for (const auto& r : rows)
    for (std::size_t c = 0; c < 5; ++c) width[c] = std::max(width[c], r[c].size());
  std::ostringstream out;
  for (const auto& r : rows) {
    for (std::size_t c = 0; c < 5; ++c) {
      const std::string pad(width[c] - r[c].size(), ' ');
      out << (c == 4 ? pad + r[c] : r[c] + pad) << "  ";  // runtime right-aligned
    }
    out << r[5] << "\n";
  }
  return out.str();
}

int RunPipeline(const Schedule& s, const PipelineOptions& o) {
  auto print = o.print ? o.print : [](const std::string& l) { std::printf("%s\n", l.c_str()), std::fflush(stdout); };
  if (o.project.empty()) throw InvalidInputError(s.path + ": no project folder (give project = in it, or -o)");
  CreateDirectories(o.project);
  const std::size_t from = o.from.empty() ? s.jobs.size() : s.Index(o.from);
  std::set<std::size_t> only;
  for (const auto& n : o.only) only.insert(s.Index(n));
  std::set<std::string> ran;  // jobs (re-)run in this invocation
  for (std::size_t i = 0; i < s.jobs.size(); ++i) {
    const ScheduleJob& job = s.jobs[i];
    if (!only.empty() && !only.count(i)) continue;
    const std::string dir = JoinPath(o.project, job.folder);
    const JobRecord before = ReadRecord(dir);
    const std::string state = EffectiveState(before);
    const std::string label = job.name + " (" + job.folder + ", " + job.type + ")";
    if (state == "running")
      throw InvalidInputError(JoinPath(dir, kJobFile) + ": job " + job.name + " is running (process " +
                              std::to_string(before.pid) + " on " + (before.host.empty() ? "?" : before.host) +
                              "); if it is not, remove its job.toml");
    // Its inputs must be done.
    for (const auto& d : job.depends) {
      const ScheduleJob* dep = s.Find(d);
      const JobRecord r = ReadRecord(JoinPath(o.project, dep->folder));
      if (!o.dry_run && EffectiveState(r) != "done")
        throw InvalidInputError(s.path + ":" + std::to_string(job.line) + ": job " + job.name + " needs " + dep->name +
                                " (" + dep->folder + "), which is " + EffectiveState(r));
    }
    const std::string hash = JobHash(s, job, o.project);
    const bool forced = i >= from;
    const bool complete = OutputsComplete(job, dir, o.project);
    std::string why;
    if (forced)
      why = "from " + o.from;
    else if (state == "not run")
      why = "";
    else if (state != "done")
      why = state;
    else if (before.hash != hash)
      why = "inputs or options changed";
    else if (!complete)
      why = "outputs incomplete";
    if (state == "done" && !forced && before.hash == hash && complete) {
      print("[" + std::to_string(job.number) + "/" + std::to_string(s.jobs.size()) + "] " + label + ": done (" +
            before.finished + "), skipped");
      continue;
    }
    std::vector<std::string> extra;
    if ((state == "failed" || state == "killed") && !forced && before.hash == hash) extra = Continuation(job, dir);
    const std::vector<std::string> words = FullCommand(s, job, o, extra);
    print("[" + std::to_string(job.number) + "/" + std::to_string(s.jobs.size()) + "] " + label + ": " +
          (why.empty() ? "" : "re-run (" + why + "): ") + (extra.empty() ? "" : "continuing: ") + Joined(words));
    if (o.dry_run) continue;
    if (extra.empty()) ClearFolder(dir);
    CreateDirectories(dir);
    JobRecord r;
    r.exists = true;
    r.state = "running";
    r.hash = hash;
    r.command = Joined(words);
    r.started = NowUtc();
    r.pid = static_cast<long>(::getpid());
    r.host = HostName();
    WriteRecord(dir, job, s, r);
    for (const char* m : {"RELION_JOB_EXIT_SUCCESS", "RELION_JOB_EXIT_FAILURE"}) fs::remove(JoinPath(dir, m));
    WriteRelionPipeline(s, o.project);
    const auto t0 = std::chrono::steady_clock::now();
    const std::string out = JoinPath(dir, "run.out"), err = JoinPath(dir, "run.err");
    // As RELION's note.txt: what ran, when.
    std::ofstream(JoinPath(dir, "note.txt"), std::ios::app) << "++++ " << NowUtc() << "\n" << r.command << "\n";
    const int rc = Spawn(&r.cpu_seconds, words, o.project, out, err, Threads(job, o));
    r.cpu_seconds = std::round(r.cpu_seconds * 10) / 10;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.seconds = std::round(r.seconds * 10) / 10;
    r.finished = NowUtc();
    r.run_id =
        std::to_string(::getpid()) + "-" + std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
    r.exit_status = rc;
    const bool ok = rc == 0 && OutputsComplete(job, dir, o.project);
    r.state = ok ? "done" : "failed";
    WriteRecord(dir, job, s, r);
    WriteTextFile(JoinPath(dir, ok ? "RELION_JOB_EXIT_SUCCESS" : "RELION_JOB_EXIT_FAILURE"), "");
    WriteRelionPipeline(s, o.project);
    ran.insert(job.name);
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.1f", r.seconds);
    if (!ok) {
      const std::string last = LastLine(err);
      print("[" + std::to_string(job.number) + "/" + std::to_string(s.jobs.size()) + "] " + label + ": FAILED after " +
            secs + " s (exit status " + std::to_string(rc) + (rc == 0 ? ", no completion marker" : "") +
            "): " + (last.empty() ? "see " + err : last));
      return 1;
    }
    print("[" + std::to_string(job.number) + "/" + std::to_string(s.jobs.size()) + "] " + label + ": done in " + secs +
          " s: " + Figure(job, dir));
  }
  return 0;
}

std::string DefaultSlurmTemplate() {
  return "#!/bin/bash\n"
         "#SBATCH --job-name=emkit-{{name}}\n"
         "#SBATCH --ntasks={{ntasks}}\n"
         "#SBATCH --cpus-per-task={{cpus}}\n"
         "#SBATCH --output={{project}}/{{folder}}/slurm-%j.out\n"
         "set -euo pipefail\n"
         "cd {{project}}\n"
         "{{command}}\n";
}

std::string WriteSlurmScripts(const Schedule& s, const PipelineOptions& o, const std::string& template_text) {
  const std::string tmpl = template_text.empty() ? DefaultSlurmTemplate() : template_text;
  if (tmpl.find("{{command}}") == std::string::npos)
    throw InvalidInputError("Slurm template: no {{command}} placeholder");
  const std::string project = fs::absolute(o.project).lexically_normal().string();
  const std::string schedule = fs::absolute(s.path).lexically_normal().string();
  CreateDirectories(project);
  std::ostringstream submit;
  submit << "#!/bin/bash\n# Submits the jobs of " << schedule << " to Slurm, each after the jobs it needs.\n"
         << "set -euo pipefail\ncd " << ShellQuote(project) << "\n";
  for (const auto& job : s.jobs) {
    const std::string command = Joined({o.emkit, "pipeline", "run", schedule, "-o", project, "--only", job.name,
                                        "--threads", std::to_string(Threads(job, o))});
    std::string text = tmpl;
    text = Substitute(text, "{{name}}", job.name);
    text = Substitute(text, "{{folder}}", job.folder);
    text = Substitute(text, "{{ntasks}}", std::to_string(job.ranks));
    text = Substitute(text, "{{cpus}}", std::to_string(Threads(job, o)));
    text = Substitute(text, "{{project}}", ShellQuote(project));
    text = Substitute(text, "{{command}}", command);
    if (const auto p = text.find("{{"); p != std::string::npos)
      throw InvalidInputError("Slurm template: unknown placeholder " + text.substr(p, text.find("}}", p) + 2 - p));
    const std::string script = JoinPath(job.folder, "job.sbatch");
    CreateDirectories(JoinPath(project, job.folder));
    WriteTextFile(JoinPath(project, script), text);
    auto var = [](std::string n) {
      for (char& c : n)
        if (c == '-') c = '_';
      return "J_" + n;
    };
    std::string deps;
    for (const auto& d : job.depends) deps += (deps.empty() ? "" : ":") + std::string("${") + var(d) + "}";
    submit << var(job.name) << "=$(sbatch --parsable" << (deps.empty() ? "" : " --dependency=afterok:" + deps) << " "
           << script << ")\necho \"" << job.name << " (" << job.folder << "): Slurm job ${" << var(job.name) << "}\"\n";
  }
  const std::string path = JoinPath(project, "submit_slurm.sh");
  WriteTextFile(path, submit.str());
  ::chmod(path.c_str(), 0755);
  return path;
}

}  // namespace emkit
