// CUDA check of the CNN picker's model code (models/): the same network, weights and batches on
// the CPU and on a CUDA device must give the same maps, losses and files, and the CUDA path must
// train deterministically for a seed. Built by benchmarks/cnn/cuda_check.sh against a CUDA
// LibTorch (it needs only core's error/files/image and models/'s torch files, so it builds where
// the rest of emkit's dependencies are missing). Prints one JSON object; exit 1 on a failed check.
//   usage: cuda_check [OUT_DIR (/tmp/emkit_cuda_check)]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/files.h"
#include "models/cnn_model.h"
#include "models/device.h"

namespace emkit {
namespace {

double Now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

Image RandomImage(int nx, int ny, unsigned seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> n(0, 1);
  Image im(nx, ny);
  for (std::size_t i = 0; i < im.size(); ++i) im.data()[i] = n(g);
  return im;
}

double MaxAbsDiff(const Image& a, const Image& b) {
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, double(std::abs(a.data()[i] - b.data()[i])));
  return m;
}

double Rms(const Image& a) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += double(a.data()[i]) * a.data()[i];
  return std::sqrt(s / a.size());
}

// A batch like SampleBatch's: 16 patches of 96², disks of radius 3 labelled 1 on 8 of them.
CnnBatch Batch(unsigned seed) {
  CnnBatch b;
  b.n = 16, b.h = b.w = 96;
  const std::size_t plane = 96 * 96;
  b.images.resize(plane * b.n);
  b.labels.assign(plane * b.n, 0);
  b.penalty_mask.assign(plane * b.n, 0);
  std::mt19937 g(seed);
  std::normal_distribution<float> n(0, 1);
  for (auto& v : b.images) v = n(g);
  for (int p = 0; p < b.n; ++p)
    for (int y = 0; y < 96; ++y)
      for (int x = 0; x < 96; ++x) {
        const bool disk = p < 8 && (x - 48) * (x - 48) + (y - 48) * (y - 48) <= 9;
        b.labels[plane * p + y * 96 + x] = disk;
        b.penalty_mask[plane * p + y * 96 + x] = p >= 8;
        if (disk) b.images[plane * p + y * 96 + x] -= 1.5f;  // something to learn
      }
  return b;
}

std::vector<double> Train(CnnModel& m, const CnnLossOptions& loss, int steps) {
  std::vector<double> l;
  for (int s = 0; s < steps; ++s) l.push_back(m.TrainStep(Batch(100 + s), loss, 16));
  return l;
}

double MaxRelDiff(const std::vector<double>& a, const std::vector<double>& b) {
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]) / std::max(1e-12, std::abs(a[i])));
  return m;
}

int Run(const std::string& out_dir) {
  nlohmann::json r;
  bool ok = true;
  auto check = [&](const std::string& name, bool pass, const nlohmann::json& value) {
    r["checks"][name] = {{"pass", pass}, {"value", value}};
    ok = ok && pass;
  };
  CreateDirectories(out_dir);
  SetTorchThreads(16);
  r["torch"] = TorchSummary();
  try {
    ParseDevice("cuda:99");
    check("cuda:99 refused", false, "accepted");
  } catch (const InvalidInputError& e) {
    check("cuda:99 refused", true, e.what());
  }
  const DeviceSpec gpu = ParseDevice("cuda");
  const DeviceSpec cpu = ParseDevice("cpu");

  CnnModelMeta meta;
  meta.architecture = "resnet10";
  meta.width = 32;
  meta.working_pixel_size = 12.5;
  meta.diameter_angstrom = 250;
  meta.score_smoothing_px = 2;

  // Inference: a 4096² micrograph binned to 356² (the simulated benchmark's size).
  MakeTorchDeterministic(1);
  CnnModel on_cpu = CnnModel::Create(meta, 7), on_gpu = CnnModel::Create(meta, 7);
  on_gpu.SetDevice(gpu);
  const Image x = RandomImage(356, 356, 3);
  const Image pc = on_cpu.Predict(x, 0), pg = on_gpu.Predict(x, 0);
  check("predict cpu vs cuda (max |diff| / rms)", MaxAbsDiff(pc, pg) / Rms(pc) < 1e-2, MaxAbsDiff(pc, pg) / Rms(pc));
  check("cuda tiled (160) vs untiled (max |diff|)", MaxAbsDiff(on_gpu.Predict(x, 160), pg) < 1e-3 * Rms(pg),
        MaxAbsDiff(on_gpu.Predict(x, 160), pg));
  on_gpu.mutable_meta().test_time_augmentation = on_cpu.mutable_meta().test_time_augmentation = 8;
  const Image tc = on_cpu.Predict(x, 0), tg = on_gpu.Predict(x, 0);
  check("predict tta 8 cpu vs cuda (max |diff| / rms)", MaxAbsDiff(tc, tg) / Rms(tc) < 1e-2,
        MaxAbsDiff(tc, tg) / Rms(tc));
  on_gpu.mutable_meta().test_time_augmentation = on_cpu.mutable_meta().test_time_augmentation = 1;

  // A model ready to train on device d (the device before the optimiser, as emkit train does).
  auto trainable = [&](const DeviceSpec& d, uint64_t seed) {
    CnnModel m = CnnModel::Create(meta, seed);
    m.SetDevice(d);
    m.ConfigureOptimiser(3e-3, 0);
    m.EnableWeightAveraging(0.99);
    return m;
  };

  // Training: the same steps on both devices, both objectives; twice on CUDA (determinism).
  for (const auto objective : {CnnObjective::kPn, CnnObjective::kGeBinomial}) {
    const std::string name = objective == CnnObjective::kPn ? "pn" : "ge-binomial";
    CnnLossOptions loss;
    loss.objective = objective;
    loss.pi = 0.01;
    std::vector<std::vector<double>> curves;
    for (const DeviceSpec& d : {cpu, gpu, gpu}) {
      MakeTorchDeterministic(5);
      CnnModel m = trainable(d, 9);
      curves.push_back(Train(m, loss, 20));
    }
    r["loss_" + name] = {{"cpu", curves[0]}, {"cuda", curves[1]}};
    check(name + ": loss falls on cuda", curves[1].back() < 0.7 * curves[1].front(),
          {curves[1].front(), curves[1].back()});
    check(name + ": cpu vs cuda losses (max rel diff over 20 steps)", MaxRelDiff(curves[0], curves[1]) < 0.05,
          MaxRelDiff(curves[0], curves[1]));
    check(name + ": cuda deterministic (max rel diff of two runs)", MaxRelDiff(curves[1], curves[2]) == 0,
          MaxRelDiff(curves[1], curves[2]));
  }

  // Checkpoint written on CUDA resumes exactly on CUDA; a model saved on CUDA loads on the CPU.
  {
    CnnLossOptions loss;
    loss.objective = CnnObjective::kPn;
    // m trains 5 steps and writes `file`; a fresh model on `to` resumes from it. Returns the loss of
    // the next step of each.
    auto resume_step = [&](CnnModel& m, const DeviceSpec& to, const std::string& file) {
      Train(m, loss, 5);
      m.SaveCheckpoint(file, "{}");
      const double next = m.TrainStep(Batch(7), loss, 16);
      CnnModel r = trainable(to, 1);
      r.LoadCheckpoint(file);
      return std::make_pair(next, r.TrainStep(Batch(7), loss, 16));
    };
    MakeTorchDeterministic(5);
    CnnModel a = trainable(gpu, 9);
    const auto [next_a, next_b] = resume_step(a, gpu, JoinPath(out_dir, "checkpoint.pt"));
    check("cuda checkpoint resumes exactly", next_a == next_b, {next_a, next_b});
    // A checkpoint written on the CPU resumes on CUDA (Adam's state is loaded onto the model's device).
    CnnModel c = trainable(cpu, 9);
    const auto [next_c, next_g] = resume_step(c, gpu, JoinPath(out_dir, "checkpoint_cpu.pt"));
    check("cpu checkpoint resumes on cuda (rel diff of the next loss)",
          std::abs(next_c - next_g) < 1e-2 * std::abs(next_c), {next_c, next_g});
    a.SwapAveragedWeights();
    const std::string model = JoinPath(out_dir, "model.pt");
    a.Save(model);
    const Image from_gpu = a.Predict(x, 0);
    const Image on_cpu_again = CnnModel::Load(model, cpu).Predict(x, 0);
    check("saved on cuda, loaded on cpu (max |diff| / rms)", MaxAbsDiff(from_gpu, on_cpu_again) / Rms(from_gpu) < 1e-2,
          MaxAbsDiff(from_gpu, on_cpu_again) / Rms(from_gpu));
    const std::string script = JoinPath(out_dir, "model.torchscript.pt");
    a.ExportTorchScript(script);
    check("torchscript export of a cuda model runs (cpu)",
          MaxAbsDiff(CnnModel::RunTorchScript(script, x), on_cpu_again) < 1e-3 * Rms(on_cpu_again),
          MaxAbsDiff(CnnModel::RunTorchScript(script, x), on_cpu_again));
  }

  // Speed (after warm-up): inference on the 356² map, one 16 x 96² training step.
  for (const auto& [name, d] : {std::pair<std::string, DeviceSpec>{"cpu_16_threads", cpu}, {"cuda", gpu}}) {
    CnnModel m = CnnModel::Create(meta, 7);
    m.SetDevice(d);
    m.ConfigureOptimiser(3e-3, 0);
    CnnLossOptions loss;
    loss.objective = CnnObjective::kPn;
    m.Predict(x, 0);
    const CnnBatch batch = Batch(1);
    m.TrainStep(batch, loss, 16);
    double t0 = Now();
    for (int i = 0; i < 20; ++i) m.Predict(x, 0);
    const double predict = (Now() - t0) / 20;
    t0 = Now();
    for (int i = 0; i < 20; ++i) m.TrainStep(batch, loss, 16);
    const double step = (Now() - t0) / 20;
    r["seconds"][name] = {{"predict_356", predict}, {"train_step_16x96", step}};
  }
  r["pass"] = ok;
  std::printf("%s\n", r.dump(2).c_str());
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace emkit

int main(int argc, char** argv) {
  try {
    return emkit::Run(argc > 1 ? argv[1] : "/tmp/emkit_cuda_check");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cuda_check: %s\n", e.what());
    return 2;
  }
}
