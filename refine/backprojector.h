// Fourier-space reconstruction of a 3D map from 2D images in known orientations, as RELION 3.1's
// BackProjector does it (src/backprojector.cpp): each image's transform is inserted as a central
// section of a `pad` x oversampled Fourier volume with trilinear weights (data += CTF X,
// weight += CTF^2), the sums are made Hermitian and symmetrised, and the map is
// data / weight with the weight corrected by Pipe & Menon's iterative gridding (10 rounds, the
// Kaiser-Bessel blob RELION uses), optionally regularised by 1/tau2 (Wiener-like), windowed back
// to the box and divided by the trilinear kernel's transform (sinc^2).
//
// Only the cells of the padded Hermitian half within radius pad * r_max + 2 (the only ones an
// insertion reaches: trilinear neighbours of points within pad * r_max) are stored, row by row,
// so memory follows the resolution (about half the cube around that sphere). Sums can be added
// exactly as fixed point (AddToFixed), so a reconstruction does not depend on how images were
// split over threads or ranks.
#pragma once

#include <complex>
#include <vector>

#include "core/geometry.h"
#include "core/image.h"

namespace emkit {

class BackProjector {
 public:
  // `box`: image and map size; `pad`: oversampling (RELION's --pad); `r_max`: largest Fourier
  // radius inserted, in the box's Fourier pixels (0 = box / 2).
  BackProjector(int box, int pad = 2, int r_max = 0);

  int box() const { return box_; }
  int pad() const { return pad_; }
  int r_max() const { return r_max_; }
  int reach() const { return reach_; }                  // half-width of the window (RELION's pad_size / 2)
  std::size_t cells() const { return weight_.size(); }  // stored cells
  std::size_t bytes() const { return cells() * (sizeof(double) + sizeof(std::complex<double>)); }

  void Clear();
  // Inserts the transform `f` (CentredFft layout, box x box) of an image seen in orientation `a`
  // (EulerToMatrix): data += f, weight += w at pad * A^T (kx, ky, 0) for |k| <= r_max. `w` (the
  // layout of f's grid, nullptr = 1) is the weight of each pixel: CTF^2 when f is CTF x image.
  // (shift_x, shift_y): the image is first shifted by + that many pixels (RELION's origin), with
  // RELION's row convention (row box/2 is +box/2) for the phase as for the insertion.
  void Insert(const FourierGrid& f, const float* w, const Mat3& a, double shift_x = 0, double shift_y = 0);

  // Inserts sums given at selected pixels (kx[p] >= 0, ky[p]) of a box x box image, as the E-step
  // makes them per orientation: data += (re[p], im[p]), weight += w[p] at pad * A^T (kx, ky, 0).
  // The pixels (0, ky < 0) are skipped: their conjugates (0, -ky) carry the same sums.
  void InsertPixels(const int* kx, const int* ky, int count, const float* re, const float* im, const float* w,
                    const Mat3& a);

  // RELION's symmetrise: the x = 0 plane made Hermitian, then the sums of every symmetry
  // operator added (trilinear), not averaged.
  void Symmetrise(const SymmetryGroup& sym, int threads = 1);

  struct ReconstructOptions {
    int iterations = 10;       // Pipe & Menon weight-correction rounds (RELION's --iter)
    std::vector<double> tau2;  // per shell 0..box/2 (empty: no regularisation)
    double tau2_fudge = 1;     // T
    int minres_map = 0;        // regularise only from this shell on (RELION: 5 in refinement)
    int threads = 1;
    // Where tau2 is 0 RELION adds 1 / (0.001 weight) to the weight, in its units (images
    // transformed with a 1/N^2 normalisation, as emkit's are): weight_unit converts other units.
    double weight_unit = 1;
  };
  // RELION's updateSSNRarrays (tau2 given, not from an FSC) on the current sums: per shell
  // 0..box/2, sigma2 (the inverse of the mean weight, pad^3 corrected) and data_vs_prior (the
  // mean of weight / (1 / (pad^3 T tau2)); 0 beyond r_max, 999 for empty shells).
  struct SsnrArrays {
    std::vector<double> sigma2, data_vs_prior;
    std::vector<double> tau2;  // SsnrFromFsc only
  };
  SsnrArrays Ssnr(const std::vector<double>& tau2, double tau2_fudge, double weight_unit = 1) const;
  // The same for gold-standard refinement (update_tau2_with_fsc): per shell, FSC clipped to
  // [0.001, 0.999] (for a map of both halves, `whole`, first FSC' = sqrt(2 FSC / (1 + FSC))),
  // data_vs_prior = T FSC / (1 - FSC) and tau2 = data_vs_prior x sigma2.
  SsnrArrays SsnrFromFsc(const std::vector<double>& fsc, double tau2_fudge, bool whole) const;

  // RELION's compareTwoHalves: the FSC (shells 0..box/2, shell 0 set to 1, 0 beyond r_max) of the
  // two sums' plain averages data / weight on the unpadded grid (getDownsampledAverage).
  static std::vector<double> HalfFsc(const BackProjector& a, const BackProjector& b);
  // RELION's joinTwoHalvesAtLowResolution: within padded radius round(pad r) (r in the box's
  // Fourier pixels) both get the mean of the two data and of the two weights.
  static void JoinLowResolution(BackProjector* a, BackProjector* b, int r);
  // Adds the sums of `other` (same box, pad and r_max): the two halves joined.
  void Add(const BackProjector& other);
  // The map (box^3, centred at box / 2), as RELION's reconstruct + windowToOridimRealSpace +
  // griddingCorrect.
  Volume Reconstruct(const ReconstructOptions& opt) const;

  // Exact sums: every value as a 128-bit fixed-point number (resolution 2^-40); integer addition
  // is associative, so the totals do not depend on the order. `total` has fixed_size() values.
  std::size_t fixed_size() const { return 3 * cells(); }
  void AddToFixed(std::vector<__int128>* total) const;
  void SetFromFixed(const std::vector<__int128>& total);

  // Sums at padded frequency (x >= 0, y, z), |y|, |z|, x <= reach() (0 where not stored); for tests.
  std::complex<double> data(int x, int y, int z) const {
    return Stored(x, y, z) ? data_[Index(x, y, z)] : std::complex<double>(0, 0);
  }
  double weight(int x, int y, int z) const { return Stored(x, y, z) ? weight_[Index(x, y, z)] : 0.0; }

 private:
  // Trilinear insertion at padded coordinates (the conjugate at -p when xp < 0).
  void Accumulate(double xp, double yp, double zp, std::complex<double> v, double wt);
  // Row (y, z) of the window holds x = 0 .. row_len_[row] - 1 from row_start_[row] on.
  std::size_t Row(int y, int z) const { return static_cast<std::size_t>(z + reach_) * side_ + (y + reach_); }
  bool Stored(int x, int y, int z) const { return x >= 0 && x < row_len_[Row(y, z)]; }
  std::size_t Index(int x, int y, int z) const { return row_start_[Row(y, z)] + x; }
  // f(i, x, y, z) for every stored cell i, in storage order.
  template <class F>
  void ForEachCell(F&& f) const {
    for (int z = -reach_; z <= reach_; ++z)
      for (int y = -reach_; y <= reach_; ++y) {
        const std::size_t row = Row(y, z), start = row_start_[row];
        for (int x = 0; x < row_len_[row]; ++x) f(start + x, x, y, z);
      }
  }
  int box_, pad_, r_max_, reach_, side_;
  std::vector<int> row_len_;
  std::vector<std::size_t> row_start_;
  std::vector<std::complex<double>> data_;
  std::vector<double> weight_;
};

// RELION's softMaskOutsideMap: beyond `radius` (voxels from the centre n/2) the map goes to the
// mean of that region over a raised-cosine edge of `edge` voxels.
void SoftMaskOutsideMap(Volume* vol, double radius, double edge);
// Multiplies the map by a soft sphere (1 inside `radius`, raised-cosine edge of `edge` voxels, 0
// beyond): RELION's solvent flattening without a mask.
void SoftSphereMask(Volume* vol, double radius, double edge);

// RELION's tabulated transform of the Kaiser-Bessel blob (radius 1.9 x 2, alpha 15, order 0) used
// to convolve the weights in the gridding correction, at r in cycles per padded sample (0 beyond 0.5).
double BlobFourierValue(double r);

}  // namespace emkit
