// Writes a small simulated particle set (particles.star + particles.mrcs) for the MPI tests:
// three blob images at random in-plane rotations and shifts, CTF, Gaussian noise (SNR 0.1).
// Usage: make_class2d_particles OUT_DIR N BOX
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "core/ctf.h"
#include "core/fft.h"
#include "core/filters.h"
#include "core/geometry.h"
#include "core/random.h"
#include "io/mrc.h"
#include "io/particles.h"

using namespace emkit;

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s OUT_DIR N BOX\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const int n = std::atoi(argv[2]), box = std::atoi(argv[3]);
  const double pixel = 4.0;
  std::filesystem::create_directories(dir);
  const std::vector<std::vector<std::array<double, 3>>> shapes = {
      {{-4, -4, 2.5}, {3, -4, 2}, {9, -4, 2}, {-4, 3, 2}, {-4, 9, 2}},
      {{8, 0, 2.5}, {4, 6.9, 1.5}, {-4, 6.9, 1.5}, {-8, 0, 1.5}},
      {{-7, 0, 3.5}, {7, 0, 3.5}, {0, 6, 1.5}}};
  std::vector<Image> truth;
  for (const auto& blobs : shapes) {
    Image img(box, box);
    for (int y = 0; y < box; ++y)
      for (int x = 0; x < box; ++x) {
        double v = 0;
        for (const auto& b : blobs) {
          const double dx = x - box / 2 - b[0], dy = y - box / 2 - b[1];
          v += std::exp(-(dx * dx + dy * dy) / (2 * b[2] * b[2]));
        }
        img(x, y) = static_cast<float>(v);
      }
    truth.push_back(img);
  }
  ParticleSet set;
  OpticsGroup og;
  og.pixel_size = pixel;
  og.image_size = box;
  set.optics.push_back(og);
  ImageStack stack;
  for (int i = 0; i < n; ++i) {
    Rng rng(1234, StreamId("mpi-test-particle", i));
    Particle p;
    p.image_name = MakeImageName(i, "particles.mrcs");
    p.micrograph_name = "mic" + std::to_string(i % 3) + ".mrc";  // three groups for --scale
    p.ctf.defocus_u = rng.Uniform(10000, 25000);
    p.ctf.defocus_v = p.ctf.defocus_u - 150;
    p.ctf.defocus_angle = rng.Uniform(0, 180);
    Image img = RotateImage(truth[i % truth.size()], rng.Uniform(0, 360), rng.Uniform(-2, 2), rng.Uniform(-2, 2));
    FourierGrid f = Fft(img);
    const Grid<float> ctf = Ctf(p.ctf).HalfImage(box, pixel);
    for (std::size_t j = 0; j < f.size(); ++j) f.data()[j] *= ctf[j];
    img = InverseFft(f);
    const double sd = ComputeStats(img).stddev / std::sqrt(0.1);
    for (std::size_t j = 0; j < img.size(); ++j) img[j] += static_cast<float>(rng.Normal(0, sd));
    Normalise(&img);
    const float intensity = static_cast<float>(0.8 + 0.1 * (i % 5));  // for --norm
    for (std::size_t j = 0; j < img.size(); ++j) img[j] *= intensity;
    stack.push_back(img);
    set.particles.push_back(p);
  }
  MrcWriteOptions mo;
  mo.pixel_size = pixel;
  mo.kind = MrcKind::kStack;
  WriteMrcStack(dir + "/particles.mrcs", stack, mo);
  WriteParticles(dir + "/particles.star", set);
  return 0;
}
