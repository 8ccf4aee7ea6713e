// Real and Fourier-space grids. Real data are x-fastest: index = (z * ny + y) * nx + x.
// Fourier grids hold FFTW's Hermitian half: (nx/2 + 1) x ny x nz complex values, with the
// logical (real-space) size kept beside them.
#pragma once

#include <complex>
#include <cstddef>
#include <cstdlib>
#include <new>
#include <vector>

namespace emkit {

// 64-byte aligned storage so FFTW's SIMD plans can run on any grid's buffer.
template <class T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U>&) {}
  T* allocate(std::size_t n) {
    std::size_t bytes = ((n * sizeof(T) + 63) / 64) * 64;
    void* p = std::aligned_alloc(64, bytes == 0 ? 64 : bytes);
    if (!p) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t) { std::free(p); }
  template <class U>
  bool operator==(const AlignedAllocator<U>&) const {
    return true;
  }
  template <class U>
  bool operator!=(const AlignedAllocator<U>&) const {
    return false;
  }
};

template <class T>
class Grid {
 public:
  Grid() = default;
  Grid(int nx, int ny, int nz = 1, T value = T()) { Resize(nx, ny, nz, value); }

  void Resize(int nx, int ny, int nz = 1, T value = T()) {
    nx_ = nx;
    ny_ = ny;
    nz_ = nz;
    data_.assign(static_cast<std::size_t>(nx) * ny * nz, value);
  }

  int nx() const { return nx_; }
  int ny() const { return ny_; }
  int nz() const { return nz_; }
  std::size_t size() const { return data_.size(); }
  bool empty() const { return data_.empty(); }
  bool SameShape(const Grid& o) const { return nx_ == o.nx_ && ny_ == o.ny_ && nz_ == o.nz_; }

  T* data() { return data_.data(); }
  const T* data() const { return data_.data(); }
  T& operator[](std::size_t i) { return data_[i]; }
  const T& operator[](std::size_t i) const { return data_[i]; }
  T& operator()(int x, int y, int z = 0) { return data_[(static_cast<std::size_t>(z) * ny_ + y) * nx_ + x]; }
  const T& operator()(int x, int y, int z = 0) const {
    return data_[(static_cast<std::size_t>(z) * ny_ + y) * nx_ + x];
  }
  auto begin() { return data_.begin(); }
  auto end() { return data_.end(); }
  auto begin() const { return data_.begin(); }
  auto end() const { return data_.end(); }
  void Fill(T value) { std::fill(data_.begin(), data_.end(), value); }

  // Section z of a 3D grid or stack, as a 2D grid.
  Grid Section(int z) const {
    Grid out(nx_, ny_, 1);
    std::copy(data_.begin() + static_cast<std::ptrdiff_t>(z) * nx_ * ny_,
              data_.begin() + static_cast<std::ptrdiff_t>(z + 1) * nx_ * ny_, out.data_.begin());
    return out;
  }
  void SetSection(int z, const Grid& section) {
    std::copy(section.data_.begin(), section.data_.end(), data_.begin() + static_cast<std::ptrdiff_t>(z) * nx_ * ny_);
  }

 private:
  int nx_ = 0, ny_ = 0, nz_ = 0;
  std::vector<T, AlignedAllocator<T>> data_;
};

using Image = Grid<float>;   // 2D (nz == 1), or a stack of 2D sections
using Volume = Grid<float>;  // 3D
using ImageStack = std::vector<Image>;
using Complex = std::complex<float>;

// Hermitian half of the transform of a real grid of logical size nx x ny x nz.
class FourierGrid {
 public:
  FourierGrid() = default;
  FourierGrid(int nx, int ny, int nz = 1) : nx_(nx), data_(nx / 2 + 1, ny, nz) {}

  int logical_nx() const { return nx_; }
  int logical_ny() const { return data_.ny(); }
  int logical_nz() const { return data_.nz(); }
  int half_nx() const { return data_.nx(); }
  bool is_3d() const { return data_.nz() > 1; }
  Grid<Complex>& grid() { return data_; }
  const Grid<Complex>& grid() const { return data_; }
  Complex* data() { return data_.data(); }
  const Complex* data() const { return data_.data(); }
  std::size_t size() const { return data_.size(); }

  // Signed frequency of row y (or slice z) for a dimension of size n.
  static int Freq(int i, int n) { return i < (n + 1) / 2 ? i : i - n; }
  static int Index(int k, int n) { return k < 0 ? k + n : k; }

  // Coefficient at signed frequency (kx >= 0, ky, kz); no bounds checks.
  Complex& At(int kx, int ky, int kz = 0) { return data_(kx, Index(ky, data_.ny()), Index(kz, data_.nz())); }
  const Complex& At(int kx, int ky, int kz = 0) const {
    return data_(kx, Index(ky, data_.ny()), Index(kz, data_.nz()));
  }

 private:
  int nx_ = 0;
  Grid<Complex> data_;
};

// Simple statistics over all values of a grid (double accumulation).
struct Stats {
  double min = 0, max = 0, mean = 0, stddev = 0, rms = 0;
  std::size_t nan_count = 0;
};
Stats ComputeStats(const float* data, std::size_t n);
inline Stats ComputeStats(const Image& img) { return ComputeStats(img.data(), img.size()); }

}  // namespace emkit
