// Micro-benchmarks of the foundation: FFTs (cached plans, threads), CTF images, Fourier
// cropping, rotations, MRC reading, progress counting. Run through benchmarks/core/run.sh.
#include <benchmark/benchmark.h>

#include <filesystem>

#include "core/ctf.h"
#include "core/fft.h"
#include "core/filters.h"
#include "core/geometry.h"
#include "core/log.h"
#include "core/random.h"
#include "io/mrc.h"

namespace emkit {
namespace {

Image Noise(int n) {
  Image img(n, n);
  Rng r(1, 1);
  for (auto& v : img) v = static_cast<float>(r.Normal());
  return img;
}

void BM_Fft2D(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0)), threads = static_cast<int>(state.range(1));
  Image img = Noise(n);
  FourierGrid f;
  Fft(img, &f, threads);  // plan once
  for (auto _ : state) {
    Fft(img, &f, threads);
    benchmark::DoNotOptimize(f.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Fft2D)->ArgsProduct({{64, 256, 1024, 4096}, {1, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_FftRoundTrip64Batch(benchmark::State& state) {
  // The refinement's typical particle: many small transforms, one per thread.
  Image img = Noise(64);
  FourierGrid f;
  Image back;
  for (auto _ : state) {
    for (int i = 0; i < 100; ++i) {
      Fft(img, &f, 1);
      InverseFft(f, &back, 1);
    }
    benchmark::DoNotOptimize(back.data());
  }
  state.SetItemsProcessed(state.iterations() * 100);
}
BENCHMARK(BM_FftRoundTrip64Batch)->Unit(benchmark::kMillisecond);

void BM_CtfHalfImage(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  CtfParams p;
  p.defocus_u = 15000;
  p.defocus_v = 14000;
  p.defocus_angle = 30;
  Ctf ctf(p);
  for (auto _ : state) {
    auto h = ctf.HalfImage(n, 1.0);
    benchmark::DoNotOptimize(h.data());
  }
}
BENCHMARK(BM_CtfHalfImage)->Arg(64)->Arg(256)->Arg(1024)->Unit(benchmark::kMicrosecond);

void BM_FourierBin4096To1024(benchmark::State& state) {
  Image img = Noise(4096);
  const int threads = static_cast<int>(state.range(0));
  for (auto _ : state) {
    Image small = FourierResize(img, 1024, 1024, 1, threads);
    benchmark::DoNotOptimize(small.data());
  }
}
BENCHMARK(BM_FourierBin4096To1024)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_RotateFourier(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  FourierGrid f = CentredFft(Noise(n));
  double psi = 0;
  for (auto _ : state) {
    FourierGrid r = RotateFourier(f, psi += 6);
    benchmark::DoNotOptimize(r.data());
  }
}
BENCHMARK(BM_RotateFourier)->Arg(64)->Arg(128)->Unit(benchmark::kMicrosecond);

void BM_ReadMrcSection(benchmark::State& state) {
  const std::string path = (std::filesystem::temp_directory_path() / "emkit_bench_stack.mrcs").string();
  ImageStack stack(200, Noise(128));
  WriteMrcStack(path, stack, {1.0, MrcKind::kStack});
  MrcHeader h = ReadMrcHeader(path);
  int i = 0;
  for (auto _ : state) {
    Image s = ReadMrcSection(path, i++ % 200, &h);
    benchmark::DoNotOptimize(s.data());
  }
  std::filesystem::remove(path);
}
BENCHMARK(BM_ReadMrcSection)->Unit(benchmark::kMicrosecond);

// The cost of counting progress from worker threads (an atomic add and a clock read when no
// report is due): per E-step chunk, per training step, per micrograph.
void BM_ProgressAdvance(benchmark::State& state) {
  static Progress* progress = nullptr;
  if (state.thread_index() == 0) {
    ProgressOptions o;
    o.mode = ProgressMode::kLines;
    o.line_interval = 1e9;  // counts, never reports
    o.sink = [](const std::string&) {};
    progress = new Progress("bench", 1u << 30, o);
  }
  for (auto _ : state) progress->Advance();
  if (state.thread_index() == 0) {
    delete progress;
    progress = nullptr;
  }
}
BENCHMARK(BM_ProgressAdvance)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace emkit

BENCHMARK_MAIN();
