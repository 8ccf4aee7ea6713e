#include "pipeline/schedule.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "core/error.h"
#include "core/files.h"
#include "pipeline/relion_job.h"

namespace emkit {
namespace {

long LineOf(const toml::node& node) { return static_cast<long>(node.source().begin.line); }

// The shortest decimal text that reads back as the same double.
std::string NumberText(double v) {
  char buf[64];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

class Parser {
 public:
  Parser(std::string source, std::vector<std::string> known) : source_(std::move(source)), known_(std::move(known)) {}

  Schedule Parse(const std::string& text) {
    toml::table root;
    try {
      root = toml::parse(text, source_);
    } catch (const toml::parse_error& e) {
      throw InvalidInputError(Where(source_, static_cast<long>(e.source().begin.line)) + ": " +
                              std::string(e.description()));
    }
    Schedule s;
    s.path = source_;
    for (auto&& [key, node] : root) {
      const std::string k(key.str());
      if (k == "project") {
        s.project = String(node, "project");
      } else if (k == "mpirun") {
        s.mpirun = String(node, "mpirun");
      } else if (k == "job") {
        const toml::array* jobs = node.as_array();
        if (!jobs) Fail(node, "'job' must be an array of tables ([[job]])");
        for (auto&& j : *jobs) {
          const toml::table* t = j.as_table();
          if (!t) Fail(j, "each [[job]] must be a table");
          s.jobs.push_back(Job(*t, s));
        }
      } else {
        Fail(node, "unknown key '" + k + "' (expected project, mpirun, [[job]])");
      }
    }
    if (s.jobs.empty()) throw InvalidInputError(source_ + ": the schedule has no [[job]]");
    return s;
  }

 private:
  [[noreturn]] void Fail(const toml::node& node, const std::string& what) const {
    throw InvalidInputError(Where(source_, LineOf(node)) + ": " + what);
  }
  [[noreturn]] void Fail(long line, const std::string& what) const {
    throw InvalidInputError(Where(source_, line) + ": " + what);
  }
  std::string String(const toml::node& node, const std::string& key) const {
    const auto* v = node.as_string();
    if (!v) Fail(node, "'" + key + "' must be a string");
    return v->get();
  }
  int Int(const toml::node& node, const std::string& key, int lo) const {
    const auto* v = node.as_integer();
    if (!v || v->get() < lo || v->get() > 100000)
      Fail(node, "'" + key + "' must be an integer >= " + std::to_string(lo));
    return static_cast<int>(v->get());
  }
  std::string Scalar(const toml::node& node, const std::string& key) const {
    if (const auto* v = node.as_string()) return v->get();
    if (const auto* v = node.as_integer()) return std::to_string(v->get());
    if (const auto* v = node.as_floating_point()) return NumberText(v->get());
    Fail(node, "option '" + key + "': expected a string, a number, true/false or an array of them");
  }

  // Replaces {name} by the folder of an earlier job ({out}, {emkit} stay for the runner).
  // In a shell command (external jobs) other braces stay as they are (awk, ${VAR}).
  std::string Resolve(const std::string& text, long line, const Schedule& s, ScheduleJob* job,
                      bool shell = false) const {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] != '{') {
        out += text[i];
        continue;
      }
      const std::size_t end = text.find('}', i);
      const std::string ref = end == std::string::npos ? "" : text.substr(i + 1, end - i - 1);
      const ScheduleJob* dep = ref.empty() ? nullptr : s.Find(ref);
      if (ref == "out" || ref == "emkit") {
        out += "{" + ref + "}";
      } else if (dep) {
        out += dep->folder;
        if (std::find(job->depends.begin(), job->depends.end(), dep->name) == job->depends.end())
          job->depends.push_back(dep->name);
      } else if (shell) {
        out += '{';
        continue;
      } else if (end == std::string::npos) {
        Fail(line, "unclosed '{' in \"" + text + "\"");
      } else {
        Fail(line, "{" + ref + "} is not the name of an earlier job (names so far: " + Names(s) + ")");
      }
      i = end;
    }
    return out;
  }
  static std::string Names(const Schedule& s) {
    std::string n;
    for (const auto& j : s.jobs) n += (n.empty() ? "" : ", ") + j.name;
    return n.empty() ? "none" : n;
  }

  ScheduleJob Job(const toml::table& t, const Schedule& s) const {
    ScheduleJob job;
    job.line = LineOf(t);
    job.number = static_cast<int>(s.jobs.size()) + 1;
    char def[16];
    std::snprintf(def, sizeof def, "job%03d", job.number);
    job.name = def;
    const toml::table* options = nullptr;
    long options_line = job.line, command_line = job.line, relion_line = 0;
    std::string relion_job;
    for (auto&& [key, node] : t) {
      const std::string k(key.str());
      if (k == "name") {
        job.name = String(node, k);
        const bool ok = !job.name.empty() && std::all_of(job.name.begin(), job.name.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
        });
        if (!ok) Fail(node, "job name '" + job.name + "': use letters, digits, '_' and '-'");
        if (job.name.rfind("job", 0) == 0 && job.name != def && job.name.size() == 6 &&
            std::all_of(job.name.begin() + 3, job.name.end(), ::isdigit))
          Fail(node, "job name '" + job.name + "' is the default name of another job");
      } else if (k == "type") {
        job.type = String(node, k);
      } else if (k == "command") {
        job.command = String(node, k);
        command_line = LineOf(node);
      } else if (k == "ranks") {
        job.ranks = Int(node, k, 1);
      } else if (k == "threads") {
        job.threads = Int(node, k, 0);
      } else if (k == "relion_job") {
        relion_job = String(node, k);
        relion_line = LineOf(node);
      } else if (k == "options") {
        options = node.as_table();
        if (!options) Fail(node, "'options' must be a table ([job.options])");
        options_line = LineOf(node);
      } else {
        Fail(node,
             "unknown key '" + k + "' in [[job]] (expected name, type, options, ranks, threads, command, relion_job)");
      }
    }
    (void)options_line;
    // A RELION job file gives the type, options, ranks and threads; the schedule's own win.
    RelionJobFile relion;
    if (!relion_job.empty()) {
      const std::string dir = ParentDir(source_);
      const std::string path = relion_job[0] == '/' || dir.empty() ? relion_job : JoinPath(dir, relion_job);
      try {
        relion = ReadRelionJobStar(path);
      } catch (const Error& e) {
        Fail(relion_line, std::string("relion_job: ") + e.what());
      }
      if (!job.type.empty() && job.type != relion.type)
        Fail(relion_line, "type '" + job.type + "' but " + relion_job + " is a " + relion.type + " job");
      job.type = relion.type;
      if (!t.contains("ranks")) job.ranks = relion.ranks;
      if (!t.contains("threads")) job.threads = relion.threads;
    }
    for (const auto& other : s.jobs)
      if (other.name == job.name)
        Fail(job.line, "two jobs named '" + job.name + "' (the other at line " + std::to_string(other.line) + ")");
    if (job.type.empty()) Fail(job.line, "[[job]] " + job.name + " has no type (an emkit command or \"external\")");
    const std::string command = job.Command();
    if (job.external()) {
      if (job.command.empty()) Fail(job.line, "external job " + job.name + " has no command");
      if (options) Fail(*options, "external job " + job.name + ": give its arguments in its command");
      if (job.ranks > 1) Fail(job.line, "external job " + job.name + ": ranks are for emkit commands");
      job.command = Resolve(job.command, command_line, s, &job, true);
    } else {
      if (!job.command.empty()) Fail(command_line, "'command' is for external jobs (this one is " + job.type + ")");
      if (!known_.empty() && std::find(known_.begin(), known_.end(), command) == known_.end()) {
        std::string list;
        for (const auto& c : known_) list += (list.empty() ? "" : ", ") + c;
        Fail(job.line, "unknown job type '" + job.type + "' (emkit commands: " + list + "; or external)");
      }
      if (command == "pipeline") Fail(job.line, "a schedule cannot run emkit pipeline");
    }
    job.folder = JobTypeFolder(command) + "/" + def;
    for (auto& o : relion.options) {
      const bool overridden = options && options->contains(o.name);
      if (!overridden) {
        o.line = relion_line;
        job.options.push_back(o);
      }
    }
    // In file order (a TOML table is sorted by key).
    std::vector<std::pair<std::string, const toml::node*>> in_order;
    if (options)
      for (auto&& [key, node] : *options) in_order.push_back({std::string(key.str()), &node});
    std::stable_sort(in_order.begin(), in_order.end(), [](const auto& a, const auto& b) {
      const auto &x = a.second->source().begin, &y = b.second->source().begin;
      return x.line != y.line ? x.line < y.line : x.column < y.column;
    });
    for (const auto& [key, node_ptr] : in_order) {
      const toml::node& node = *node_ptr;
      {
        ScheduleOption o;
        o.name = key;
        o.line = LineOf(node);
        const std::size_t start = std::min(o.name.size(), o.name.find_first_not_of('-'));
        const std::string bare = o.name.substr(start);
        if (bare.empty()) Fail(node, "an option without a name");
        if (bare == "o" || bare == "threads" || bare == "j" || (bare == "out" && bare != o.name))
          Fail(node, "option '" + o.name + "' is set by the pipeline (give out = \"name\" or threads = N)");
        if (const auto* b = node.as_boolean()) {
          if (!b->get()) continue;  // a flag not given
        } else if (const auto* a = node.as_array()) {
          if (a->empty()) Fail(node, "option '" + o.name + "': empty array");
          for (auto&& e : *a) o.values.push_back(Resolve(Scalar(e, o.name), o.line, s, &job));
        } else {
          o.values.push_back(Resolve(Scalar(node, o.name), o.line, s, &job));
        }
        if (o.name == "out") {
          if (o.values.size() != 1 || o.values[0].empty() || o.values[0][0] == '/' ||
              o.values[0].find("..") != std::string::npos)
            Fail(node, "option 'out': a file name inside the job's folder");
          o.values[0] = job.folder + "/" + o.values[0];
          job.has_out = true;
        }
        job.options.push_back(std::move(o));
      }
    }
    // A path into an earlier job's folder, written out, is a dependency too.
    for (const auto& o : job.options)
      for (const auto& v : o.values)
        for (const auto& other : s.jobs)
          if ((v == other.folder || v.rfind(other.folder + "/", 0) == 0) &&
              std::find(job.depends.begin(), job.depends.end(), other.name) == job.depends.end())
            job.depends.push_back(other.name);
    return job;
  }

  std::string source_;
  std::vector<std::string> known_;
};

}  // namespace

std::string ScheduleJob::Command() const { return type.substr(0, type.find(' ')); }

const ScheduleJob* Schedule::Find(const std::string& name) const {
  for (const auto& j : jobs)
    if (j.name == name || j.folder == name || j.folder + "/" == name || Basename(j.folder) == name) return &j;
  return nullptr;
}

std::size_t Schedule::Index(const std::string& name) const {
  const ScheduleJob* j = Find(name);
  if (!j) throw InvalidInputError(path + ": no job named '" + name + "'");
  return static_cast<std::size_t>(j - jobs.data());
}

Schedule ParseSchedule(const std::string& text, const std::string& source,
                       const std::vector<std::string>& known_commands) {
  return Parser(source, known_commands).Parse(text);
}

Schedule ReadSchedule(const std::string& path, const std::vector<std::string>& known_commands) {
  return ParseSchedule(ReadTextFile(path), path, known_commands);
}

std::string JobTypeFolder(const std::string& command) {
  static const std::map<std::string, std::string> names = {{"simulate", "Simulate"},
                                                           {"pick", "Pick"},
                                                           {"train", "Train"},
                                                           {"extract", "Extract"},
                                                           {"class2d", "Class2D"},
                                                           {"class3d", "Class3D"},
                                                           {"refine3d", "Refine3D"},
                                                           {"reconstruct", "Reconstruct"},
                                                           {"postprocess", "PostProcess"},
                                                           {"eval-picks", "EvalPicks"},
                                                           {"fsc", "Fsc"},
                                                           {"ctf", "CtfFind"},
                                                           {"external", "External"},
                                                           {"info", "Info"}};
  if (auto it = names.find(command); it != names.end()) return it->second;
  std::string out;
  bool upper = true;
  for (char c : command) {
    if (c == '-' || c == '_') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}

std::vector<std::string> JobArguments(const ScheduleJob& job) {
  std::vector<std::string> args;
  for (std::size_t p = 0, q; p <= job.type.size(); p = q + 1) {
    q = job.type.find(' ', p);
    if (q == std::string::npos) q = job.type.size();
    if (q > p) args.push_back(job.type.substr(p, q - p));
  }
  for (const auto& o : job.options) {
    args.push_back(o.name[0] == '-' ? o.name : "--" + o.name);
    for (const auto& v : o.values) args.push_back(v);
  }
  if (!job.has_out) {
    args.push_back("-o");
    args.push_back(job.folder);
  }
  return args;
}

std::string ShellQuote(const std::string& word) {
  const bool plain = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string("-_./=,:+@%").find(c) != std::string::npos;
  });
  if (plain) return word;
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace emkit
