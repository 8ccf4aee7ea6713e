// CNN picker speed on this machine: inference per 4096² micrograph (preprocess + network +
// peaks), channels-last vs default layout, training-step time, and whether 1 and 2 threads
// give bit-identical training. Prints one JSON document.
//   bench_cnn [model.pt or ""] [threads]
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/log.h"
#include "core/random.h"
#include "models/cnn_model.h"
#include "models/device.h"
#include "picker/peaks.h"
#include "picker/preprocess.h"

using namespace emkit;

namespace {

Image Noise(int nx, int ny, uint64_t seed) {
  Image img(nx, ny);
  Rng rng(seed, 0);
  for (auto& v : img) v = static_cast<float>(rng.Normal());
  return img;
}

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// Median wall seconds of `reps` calls; *cpu (optional) = median process CPU seconds (all
// threads), which on a shared machine bounds what an idle machine would take.
template <class F>
double Median(int reps, F&& f, double* cpu = nullptr) {
  std::vector<double> t, c;
  for (int i = 0; i < reps; ++i) {
    const double t0 = NowSeconds(), c0 = CpuSeconds();
    f();
    t.push_back(NowSeconds() - t0);
    c.push_back(CpuSeconds() - c0);
  }
  std::sort(t.begin(), t.end());
  std::sort(c.begin(), c.end());
  if (cpu) *cpu = c[c.size() / 2];
  return t[t.size() / 2];
}

CnnBatch Batch(uint64_t seed) {
  CnnBatch b{16, 96, 96, {}, {}, {}};
  Image r = Noise(96, 96 * 16, seed);
  b.images.assign(r.begin(), r.end());
  b.labels.assign(b.images.size(), 0.0f);
  for (std::size_t i = 0; i < b.labels.size(); i += 97 * 13) b.labels[i] = 1;
  return b;
}

std::vector<double> TrainLosses(const CnnModelMeta& meta, int threads) {
  SetTorchThreads(threads);
  MakeTorchDeterministic(1);
  CnnModel m = CnnModel::Create(meta, 1);
  m.ConfigureOptimiser(1e-3, 0);
  std::vector<double> l;
  for (int s = 0; s < 5; ++s) l.push_back(m.TrainStep(Batch(s), {}, 16));
  return l;
}

}  // namespace

int main(int argc, char** argv) {
  KeepLargeAllocationsInHeap();  // as emkit pick and train do, before any worker thread
  const int threads = argc > 2 ? std::stoi(argv[2]) : 2;
  CnnModelMeta meta;
  meta.architecture = "resnet8";
  meta.width = 32;
  meta.working_pixel_size = 15.4;  // a 308 Å particle binned to 20 px
  meta.diameter_angstrom = 308;
  std::string source = "random weights, resnet8 width 32";
  const bool given = argc > 1 && argv[1][0] != '\0';
  CnnModel model = given ? CnnModel::Load(argv[1]) : CnnModel::Create(meta, 1);
  if (given) meta = model.meta(), source = argv[1];
  SetTorchThreads(threads);
  nlohmann::json out = {{"model", source}, {"threads", threads}, {"torch", TorchSummary()}};

  // A 4096² micrograph at 1.34 Å/px (EMPIAR-10028's original sampling).
  const double pixel = 1.34;
  Image mic = Noise(4096, 4096, 2);
  PreprocessOptions po;
  po.working_pixel_size = meta.working_pixel_size;
  po.threads = threads;
  PreprocessedMicrograph pre = PreprocessMicrograph(mic, pixel, po);
  out["binned_size"] = {pre.image.nx(), pre.image.ny()};
  for (bool cl : {true, false}) {
    model.mutable_meta().channels_last = cl;  // training's layout
    model.SetDevice({});
    model.SetInferenceChannelsLast(cl);  // Predict's (emkit uses channels-last)
    model.Predict(pre.image);            // warm-up (oneDNN primitive creation)
    double net_cpu = 0, total_cpu = 0, step_cpu = 0;
    const double net = Median(
        5, [&] { model.Predict(pre.image); }, &net_cpu);
    const double total = Median(
        3,
        [&] {
          PreprocessedMicrograph p = PreprocessMicrograph(mic, pixel, po);
          Image s = model.Predict(p.image);
          PeakOptions pk;
          pk.threshold = meta.default_threshold;
          pk.min_distance = meta.DiameterBinnedPx() / 2;
          FindPeaks(s, pk);
        },
        &total_cpu);
    CnnModel t = CnnModel::Create(model.meta(), 3);
    t.ConfigureOptimiser(1e-3, 0);
    CnnBatch b = Batch(1);
    t.TrainStep(b, {}, 16);
    const double step = Median(
        5, [&] { t.TrainStep(b, {}, 16); }, &step_cpu);
    out[cl ? "channels_last" : "nchw"] = {
        {"inference_network_s", net},         {"pick_4096_total_s", total},
        {"train_step_16x96x96_s", step},      {"inference_network_cpu_s", net_cpu},
        {"pick_4096_total_cpu_s", total_cpu}, {"train_step_16x96x96_cpu_s", step_cpu}};
  }
  // The cost of test-time augmentation: the same model (channels-last, as emkit pick) without it.
  if (model.meta().test_time_augmentation > 1) {
    out["test_time_augmentation"] = model.meta().test_time_augmentation;
    model.mutable_meta().test_time_augmentation = 1;
    model.SetInferenceChannelsLast(true);
    model.Predict(pre.image);
    double net_cpu = 0;
    const double net = Median(
        5, [&] { model.Predict(pre.image); }, &net_cpu);
    out["channels_last_without_tta"] = {{"inference_network_s", net}, {"inference_network_cpu_s", net_cpu}};
  }
  const auto one = TrainLosses(meta, 1), two = TrainLosses(meta, 2);
  double diff = 0;
  for (std::size_t i = 0; i < one.size(); ++i) diff = std::max(diff, std::abs(one[i] - two[i]));
  out["threads_1_vs_2_max_loss_difference_5_steps"] = diff;
  out["threads_1_vs_2_identical"] = one == two;
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}
