#include "core/fft.h"

#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <tuple>

#include "core/error.h"

namespace emkit {
namespace {

struct PlanKey {
  int nx, ny, nz, forward, threads;
  bool operator<(const PlanKey& o) const {
    return std::tie(nx, ny, nz, forward, threads) < std::tie(o.nx, o.ny, o.nz, o.forward, o.threads);
  }
};

// FFTW's planner is not thread-safe, its executor is: plans are made under a lock and
// executed with the new-array interface on 64-byte aligned buffers.
class PlanCache {
 public:
  static PlanCache& Get() {
    static PlanCache cache;
    return cache;
  }

  fftwf_plan Plan(int nx, int ny, int nz, bool forward, int threads) {
    std::lock_guard<std::mutex> lock(mutex_);
    PlanKey key{nx, ny, nz, forward ? 1 : 0, threads};
    auto it = plans_.find(key);
    if (it != plans_.end()) return it->second;
    if (!threads_initialised_) {
      fftwf_init_threads();
      threads_initialised_ = true;
    }
    fftwf_plan_with_nthreads(threads);
    std::size_t nreal = static_cast<std::size_t>(nx) * ny * nz;
    std::size_t ncomplex = static_cast<std::size_t>(nx / 2 + 1) * ny * nz;
    float* r = fftwf_alloc_real(nreal);
    fftwf_complex* c = fftwf_alloc_complex(ncomplex);
    fftwf_plan plan = nullptr;
    unsigned flags = FFTW_ESTIMATE;
    if (forward) {
      plan = nz > 1 ? fftwf_plan_dft_r2c_3d(nz, ny, nx, r, c, flags) : fftwf_plan_dft_r2c_2d(ny, nx, r, c, flags);
    } else {
      plan = nz > 1 ? fftwf_plan_dft_c2r_3d(nz, ny, nx, c, r, flags) : fftwf_plan_dft_c2r_2d(ny, nx, c, r, flags);
    }
    fftwf_free(r);
    fftwf_free(c);
    if (!plan)
      throw InternalError("FFTW could not plan a transform of size " + std::to_string(nx) + "x" + std::to_string(ny) +
                          "x" + std::to_string(nz));
    plans_[key] = plan;
    return plan;
  }

  int Count() {
    std::lock_guard<std::mutex> lock(mutex_);
    return static_cast<int>(plans_.size());
  }

 private:
  std::mutex mutex_;
  bool threads_initialised_ = false;
  std::map<PlanKey, fftwf_plan> plans_;
};

}  // namespace

void Fft(const Image& in, FourierGrid* out, int threads) {
  EMKIT_CHECK(!in.empty(), "FFT of an empty grid");
  if (out->logical_nx() != in.nx() || out->logical_ny() != in.ny() || out->logical_nz() != in.nz())
    *out = FourierGrid(in.nx(), in.ny(), in.nz());
  fftwf_plan plan = PlanCache::Get().Plan(in.nx(), in.ny(), in.nz(), true, std::max(1, threads));
  // FFTW's r2c does not modify its input, but the interface is not const.
  fftwf_execute_dft_r2c(plan, const_cast<float*>(in.data()), reinterpret_cast<fftwf_complex*>(out->data()));
  const float scale = 1.0f / static_cast<float>(in.size());
  for (auto& v : out->grid()) v *= scale;
}

FourierGrid Fft(const Image& in, int threads) {
  FourierGrid out;
  Fft(in, &out, threads);
  return out;
}

void InverseFftOverwriting(FourierGrid* in, Image* out, int threads) {
  const int nx = in->logical_nx(), ny = in->logical_ny(), nz = in->logical_nz();
  EMKIT_CHECK(nx > 0, "inverse FFT of an empty grid");
  if (out->nx() != nx || out->ny() != ny || out->nz() != nz) out->Resize(nx, ny, nz);
  fftwf_plan plan = PlanCache::Get().Plan(nx, ny, nz, false, std::max(1, threads));
  fftwf_execute_dft_c2r(plan, reinterpret_cast<fftwf_complex*>(in->data()), out->data());
}

void InverseFft(const FourierGrid& in, Image* out, int threads) {
  FourierGrid copy = in;  // c2r overwrites its input
  InverseFftOverwriting(&copy, out, threads);
}

Image InverseFft(const FourierGrid& in, int threads) {
  Image out;
  InverseFft(in, &out, threads);
  return out;
}

namespace {
// Multiplies the transform by exp(+-2 pi i k.c / n) with c the centre: a shift by -+c in real space.
void ShiftByCentre(FourierGrid* g, double sign) {
  const int nx = g->logical_nx(), ny = g->logical_ny(), nz = g->logical_nz();
  const double cx = nx / 2, cy = ny / 2, cz = nz > 1 ? nz / 2 : 0;
  for (int z = 0; z < nz; ++z) {
    const double kz = nz > 1 ? double(FourierGrid::Freq(z, nz)) * cz / nz : 0;
    for (int y = 0; y < ny; ++y) {
      const double ky = double(FourierGrid::Freq(y, ny)) * cy / ny;
      for (int x = 0; x < g->half_nx(); ++x) {
        const double phase = sign * 2 * M_PI * (x * cx / nx + ky + kz);
        g->grid()(x, y, z) *= Complex(static_cast<float>(std::cos(phase)), static_cast<float>(std::sin(phase)));
      }
    }
  }
}
}  // namespace

FourierGrid CentredFft(const Image& in, int threads) {
  FourierGrid f = Fft(in, threads);
  ShiftByCentre(&f, +1);
  return f;
}

Image InverseCentredFft(const FourierGrid& in, int threads) {
  FourierGrid f = in;
  return InverseCentredFftOverwriting(&f, threads);
}

Image InverseCentredFftOverwriting(FourierGrid* in, int threads) {
  ShiftByCentre(in, -1);
  Image out;
  InverseFftOverwriting(in, &out, threads);
  return out;
}

int NiceFftSize(int n) {
  // Measured with FFTW_ESTIMATE r2c (single precision, one thread): odd sizes and sizes with
  // several factors of 3 and 5 are up to 3x slower than their neighbours (675: 7.1 ms, 640:
  // 2.6 ms, 768: 3.4 ms). Keep 2^a x {1, 3, 5, 9}, a >= 1.
  for (int m = std::max(n, 2);; ++m) {
    int r = m, a = 0;
    while (r % 2 == 0) r /= 2, ++a;
    if (a >= 1 && (r == 1 || r == 3 || r == 5 || r == 9)) return m;
  }
}

int FftCachedPlanCount() { return PlanCache::Get().Count(); }

}  // namespace emkit
