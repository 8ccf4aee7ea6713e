#include "pipeline/relion_pipeline.h"

#include <cctype>
#include <filesystem>
#include <map>
#include <set>

#include "core/files.h"
#include "io/star.h"

namespace emkit {
namespace fs = std::filesystem;
namespace {

constexpr int kNodeMics = 1, kNodeCoords = 2, kNodeParticles = 3, kNode3dRef = 6, kNodeModel = 8, kNodeOptimiser = 9;
constexpr int kRunning = 0, kScheduled = 1, kSuccess = 2, kFailure = 3;

// The last run_itNNN_<suffix> in dir, or "".
std::string LastIteration(const std::string& dir, const std::string& suffix) {
  std::string last;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string n = it->path().filename().string();
    if (n.rfind("run_it", 0) == 0 && n.size() > suffix.size() &&
        n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0 && n > last)
      last = n;
  }
  return last;
}

}  // namespace

int RelionProcessType(const std::string& command) {
  static const std::map<std::string, int> types = {{"pick", 4},    {"extract", 5},   {"class2d", 8},
                                                   {"class3d", 9}, {"refine3d", 10}, {"ctf", 2}};
  const auto it = types.find(command);
  return it == types.end() ? 99 : it->second;
}

std::vector<RelionNode> RelionOutputNodes(const ScheduleJob& job, const std::string& project) {
  std::vector<RelionNode> nodes;
  const std::string dir = JoinPath(project, job.folder);
  auto add = [&](const std::string& file, int type) {
    if (FileExists(JoinPath(dir, file))) nodes.push_back({job.folder + "/" + file, type});
  };
  const std::string c = job.Command();
  if (c == "simulate") {
    add("micrographs.star", kNodeMics);
    add("particles.star", kNodeParticles);
  } else if (c == "pick") {
    add("coordinates.star", kNodeCoords);
  } else if (c == "extract") {
    add("particles.star", kNodeParticles);
  } else if (c == "class2d" || c == "class3d" || c == "refine3d") {
    for (const auto& [suffix, type] : std::vector<std::pair<std::string, int>>{
             {"_data.star", kNodeParticles}, {"_model.star", kNodeModel}, {"_optimiser.star", kNodeOptimiser}}) {
      const std::string last = LastIteration(dir, suffix);
      if (!last.empty()) add(last, type);
    }
  } else if (c == "reconstruct") {
    for (const auto& o : job.options)
      if (o.name == "out" && FileExists(JoinPath(project, o.values[0]))) nodes.push_back({o.values[0], kNode3dRef});
  }
  return nodes;
}

void WriteRelionPipeline(const Schedule& s, const std::string& project) {
  StarFile f;
  StarTable& general = f.Add(StarTable("pipeline_general", false));
  general.SetPair("rlnPipeLineJobCounter", std::to_string(s.jobs.size() + 1));
  StarTable processes("pipeline_processes");
  for (const char* l :
       {"rlnPipeLineProcessName", "rlnPipeLineProcessAlias", "rlnPipeLineProcessType", "rlnPipeLineProcessStatus"})
    processes.AddColumn(l);
  StarTable nodes("pipeline_nodes");
  nodes.AddColumn("rlnPipeLineNodeName");
  nodes.AddColumn("rlnPipeLineNodeType");
  StarTable inputs("pipeline_input_edges");
  inputs.AddColumn("rlnPipeLineEdgeFromNode");
  inputs.AddColumn("rlnPipeLineEdgeProcess");
  StarTable outputs("pipeline_output_edges");
  outputs.AddColumn("rlnPipeLineEdgeProcess");
  outputs.AddColumn("rlnPipeLineEdgeToNode");
  std::map<std::string, std::vector<RelionNode>> made;  // job name -> its output nodes
  std::set<std::string> node_names;
  for (const auto& job : s.jobs) {
    const std::string dir = JoinPath(project, job.folder);
    if (!fs::exists(dir)) continue;
    int status = kScheduled;
    if (FileExists(JoinPath(dir, "RELION_JOB_EXIT_SUCCESS")))
      status = kSuccess;
    else if (FileExists(JoinPath(dir, "RELION_JOB_EXIT_FAILURE")))
      status = kFailure;
    else if (FileExists(JoinPath(dir, "job.toml")))
      status = kRunning;
    const std::string process = job.folder + "/";
    const std::string alias =
        job.name.rfind("job", 0) == 0 ? "None" : JobTypeFolder(job.Command()) + "/" + job.name + "/";
    processes.AddRow({process, alias, std::to_string(RelionProcessType(job.Command())), std::to_string(status)});
    for (const auto& n : RelionOutputNodes(job, project)) {
      if (node_names.insert(n.name).second) nodes.AddRow({n.name, std::to_string(n.type)});
      outputs.AddRow({process, n.name});
      made[job.name].push_back(n);
    }
    // Inputs: the output nodes of the jobs it refers to that its options name (a whole folder: all).
    std::set<std::string> from;
    for (const auto& d : job.depends) {
      const ScheduleJob* dep = s.Find(d);
      for (const auto& n : made[d])
        for (const auto& o : job.options)
          for (const auto& v : o.values)
            if (v == n.name || v == dep->folder || v == dep->folder + "/") from.insert(n.name);
    }
    for (const auto& n : from) inputs.AddRow({n, process});
  }
  f.Add(processes);
  f.Add(nodes);
  f.Add(inputs);
  f.Add(outputs);
  WriteStar(JoinPath(project, "default_pipeline.star"), f);
}

RelionExternalJob::RelionExternalJob(std::string dir) : dir_(std::move(dir)) {
  std::error_code ec;
  for (const char* m : {"RELION_JOB_EXIT_SUCCESS", "RELION_JOB_EXIT_FAILURE", "RELION_OUTPUT_NODES.star"})
    fs::remove(JoinPath(dir_, m), ec);
}

RelionExternalJob::~RelionExternalJob() {
  if (done_) return;
  try {
    CreateDirectories(dir_);
    WriteTextFile(JoinPath(dir_, "RELION_JOB_EXIT_FAILURE"), "");
  } catch (...) {  // the job's own error is the one to report
  }
}

void RelionExternalJob::Success(const std::vector<RelionNode>& nodes) {
  StarFile f;
  StarTable& t = f.Add(StarTable("output_nodes"));
  t.AddColumn("rlnPipeLineNodeName");
  t.AddColumn("rlnPipeLineNodeType");
  for (const auto& n : nodes) t.AddRow({n.name, std::to_string(n.type)});
  WriteStar(JoinPath(dir_, "RELION_OUTPUT_NODES.star"), f);
  WriteTextFile(JoinPath(dir_, "RELION_JOB_EXIT_SUCCESS"), "");
  done_ = true;
}

std::string RelionCoordinateKey(const std::string& name) {
  std::string post = name;
  // After the first "/jobNNN/" (RELION's decomposePipelineFileName).
  for (std::size_t p = name.find("/job"); p != std::string::npos; p = name.find("/job", p + 1)) {
    const auto digit = [&](std::size_t i) {
      return i < name.size() && std::isdigit(static_cast<unsigned char>(name[i]));
    };
    if (digit(p + 4) && digit(p + 5) && digit(p + 6)) {
      const std::size_t end = name.find('/', p + 4);
      post = end == std::string::npos ? std::string() : name.substr(end + 1);
      break;
    }
  }
  while (!post.empty() && post[0] == '/') post.erase(0, 1);
  const std::size_t slash = post.find_last_of('/'), dot = post.find_last_of('.');
  if (dot != std::string::npos && (slash == std::string::npos || dot > slash)) post.resize(dot);
  return post;
}

}  // namespace emkit
