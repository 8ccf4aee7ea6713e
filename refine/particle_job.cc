#include "refine/particle_job.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>

#include "io/star.h"

namespace emkit {

void ParticleJob::SplitChunks(int chunk_size, int rank, int ranks) {
  const int n = reader->count();
  chunk = chunk_size;
  num_chunks = (n + chunk - 1) / chunk;
  first_chunk = static_cast<int>(static_cast<long>(num_chunks) * rank / ranks);
  last_chunk = static_cast<int>(static_cast<long>(num_chunks) * (rank + 1) / ranks);
}

PrepOptions MakePrepOptions(const ClassificationOptions& o, double mask_radius_px) {
  PrepOptions p;
  p.mask_radius_px = mask_radius_px;
  p.mask_edge_px = o.mask_edge_px;
  p.zero_mask = o.zero_mask;
  p.ctf = o.ctf;
  p.only_flip_phases = o.only_flip_phases;
  p.ctf_intact_first_peak = o.ctf_intact_first_peak;
  p.highres_power = o.norm_correction;
  return p;
}

PassContext MakePassContext(const ParticleJob& job, const ClassificationOptions& o, const Class2dModel& model,
                            int iteration, const std::string& program) {
  PassContext c;
  c.reader = job.reader.get();
  c.state = &job.state;
  c.model = &model;
  c.norm_correction = o.norm_correction;
  c.scale_correction = o.scale_correction;
  c.seed = o.seed;
  c.iteration = iteration;
  c.noise_stream = program + "-mask-noise";
  c.program = program;
  c.threads = o.threads;
  c.chunk = job.chunk;
  c.first_chunk = job.first_chunk;
  c.last_chunk = job.last_chunk;
  return c;
}

void ApplyResults(const std::vector<ParticleResult>& results, std::vector<ParticleState>* state) {
  for (std::size_t i = 0; i < state->size(); ++i) {
    ParticleState& s = (*state)[i];
    const ParticleResult& r = results[i];
    s.class_number = r.class_index + 1;
    s.rot = r.rot;
    s.tilt = r.tilt;
    s.psi = r.psi;
    s.offset_x = r.offset_x;
    s.offset_y = r.offset_y;
    s.pmax = r.pmax;
    s.nsig = r.nsig;
    s.loglik = r.loglik;
  }
}

int ChunkSize(int chunk_option, int box, double translations, double references) {
  if (chunk_option > 0) return chunk_option;
  const double t = translations, m = references;
  const double p = SelectPixels(box, box).size();
  return std::clamp(static_cast<int>(2e6 / (4 * t * (2 * p + 2 * m))), 4, 64);
}

void ReadGroupsAndNorms(ParticleJob& job) {
  const StarTable* src = job.set.source.Find(job.set.particles_block);
  const std::size_t n = job.state.size();
  const bool named = src && src->Has("rlnGroupName"), numbered = !named && src && src->Has("rlnGroupNumber");
  const bool has_norm = src && src->Has("rlnNormCorrection");
  std::map<std::string, int> index;
  job.groups.clear();
  for (std::size_t i = 0; i < n; ++i) {
    int number = 0;
    std::string key;
    if (named) {
      key = src->Get(i, "rlnGroupName");
    } else if (numbered) {
      number = static_cast<int>(src->GetInt(i, "rlnGroupNumber"));
      key = "group_" + std::to_string(number);
    } else {
      key = job.set.particles[i].micrograph_name.empty() ? "group_1" : job.set.particles[i].micrograph_name;
    }
    auto it = index.find(key);
    if (it == index.end()) {
      Class2dGroup g;
      g.number = numbered ? number : static_cast<int>(job.groups.size()) + 1;
      g.name = key;
      it = index.emplace(key, static_cast<int>(job.groups.size())).first;
      job.groups.push_back(g);
    }
    job.state[i].group = it->second;
    job.groups[it->second].particles += 1;
    if (has_norm) {
      const double v = src->GetDouble(i, "rlnNormCorrection");
      job.state[i].norm = v > 0 ? v : 1.0;
    }
  }
  if (numbered) {  // groups in the order of their numbers
    std::vector<int> order(job.groups.size()), rank(job.groups.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int a, int b) { return job.groups[a].number < job.groups[b].number; });
    std::vector<Class2dGroup> sorted;
    for (std::size_t j = 0; j < order.size(); ++j)
      rank[order[j]] = static_cast<int>(j), sorted.push_back(job.groups[order[j]]);
    for (ParticleState& st : job.state) st.group = rank[st.group];
    job.groups = std::move(sorted);
  }
}

std::vector<Class2dGroup> MergeGroups(const std::vector<Class2dGroup>& mine, const std::vector<Class2dGroup>& previous,
                                      bool numbered) {
  std::vector<Class2dGroup> out = mine;
  for (Class2dGroup& g : out)
    for (const Class2dGroup& p : previous)
      if (numbered ? p.number == g.number : p.name == g.name) {
        if (numbered) g.name = p.name;
        g.scale = p.scale;
        break;
      }
  return out;
}

void LoadParticleJob(const std::string& star, ParticleJob& job) {
  job.star_path = star;
  job.set = ReadParticles(star);
  job.reader = std::make_unique<ParticleReader>(job.set, star);
  job.box = job.reader->box();
  job.pixel_size = job.reader->pixel_size();
  job.state = StateFromParticles(job.set, job.pixel_size);
  ReadGroupsAndNorms(job);
  // Keep only the source columns the data.star copies through (those emkit does not write
  // itself): the text of every cell of every particle would otherwise stay in memory.
  StarTable* src = job.set.source.Find(job.set.particles_block);
  job.has_angles = src && src->Has("rlnAngleRot") && src->Has("rlnAngleTilt") && src->Has("rlnAnglePsi");
  if (src && !job.set.particles.empty()) {
    ParticleSet one;
    one.optics = job.set.optics;
    one.particles = {job.set.particles[0]};
    one.particles_block = job.set.particles_block;
    const StarFile own = ParticlesToStar(one, false);
    std::set<std::string> written(own.Find(one.particles_block)->labels().begin(),
                                  own.Find(one.particles_block)->labels().end());
    for (const char* l : {"rlnClassNumber", "rlnAutopickFigureOfMerit", "rlnRandomSubset", "rlnNormCorrection",
                          "rlnLogLikeliContribution", "rlnMaxValueProbDistribution", "rlnNrOfSignificantSamples"})
      written.insert(l);
    std::vector<int> keep;
    StarTable pruned(src->name());
    for (std::size_t c = 0; c < src->labels().size(); ++c)
      if (!written.count(src->labels()[c])) keep.push_back(static_cast<int>(c)), pruned.AddColumn(src->labels()[c]);
    pruned.Reserve(src->num_rows());
    for (std::size_t r = 0; r < src->num_rows(); ++r) {
      std::vector<std::string> row;
      for (int c : keep) row.push_back(src->row(r)[c]);
      pruned.AddRow(std::move(row));
    }
    *src = std::move(pruned);
  }
}

// RELION's norm correction: norm_i <- (norm_i / avg_norm) sqrt(2 sum_w |X - CTF V|^2) (the residual
// power of the corrected image is the variance of its real and imaginary parts: twice it is the
// image's); avg_norm <- the mean. Summed in particle order: the same on every rank.
void UpdateNorms(const std::vector<ParticleResult>& results, std::vector<ParticleState>* state, Class2dModel* model) {
  double sum = 0;
  for (std::size_t i = 0; i < (*state).size(); ++i) {
    ParticleState& st = (*state)[i];
    if (results[i].norm_residual > 0) st.norm = st.norm / model->avg_norm * std::sqrt(2 * results[i].norm_residual);
    sum += st.norm;
  }
  if (!(*state).empty() && sum > 0) model->avg_norm = sum / static_cast<double>((*state).size());
}

// RELION's scale correction: per group sum X.A / sum A.A with A = CTF V unscaled (the E-step's
// reference carried the old scale), limited to [median / 5, 5 median], then divided by the
// particle-weighted mean so that it averages 1.
void UpdateScales(const std::vector<ParticleResult>& results, const std::vector<ParticleState>& state,
                  Class2dModel* model) {
  std::vector<Class2dGroup>& groups = model->groups;
  const std::size_t g = groups.size();
  std::vector<double> xa(g, 0.0), aa(g, 0.0);
  for (std::size_t i = 0; i < state.size(); ++i) {
    const int k = state[i].group;
    const double old = groups[k].scale;
    xa[k] += results[i].scale_xa / old;
    aa[k] += results[i].scale_aa / (old * old);
  }
  std::vector<double> scale(g);
  for (std::size_t k = 0; k < g; ++k) scale[k] = aa[k] > 0 ? xa[k] / aa[k] : 1.0;
  std::vector<double> sorted = scale;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[g / 2];
  if (!(median > 0)) return;  // no signal to scale against yet: keep the scales
  double avg = 0, count = 0;
  for (std::size_t k = 0; k < g; ++k) {
    scale[k] = std::clamp(scale[k], median / 5, 5 * median);
    avg += static_cast<double>(groups[k].particles) * scale[k];
    count += static_cast<double>(groups[k].particles);
  }
  avg /= count;
  for (std::size_t k = 0; k < g; ++k) groups[k].scale = scale[k] / avg;
}

}  // namespace emkit
