// One simulated micrograph: layout of objects, CTF-modulated phase signal, coloured noise at
// the stated SNR, amplitude contrast of thick objects and the ice gradient (see micrographs.h).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/ctf.h"
#include "core/geometry.h"
#include "core/image.h"
#include "core/projector.h"
#include "simulate/phantom.h"

namespace emkit {

struct MicrographSimOptions;

// A map ready to be projected onto micrographs at the output pixel size.
struct ProjectionSource {
  std::string name;
  std::shared_ptr<Projector> projector;
  int box = 0;           // projection box at the output pixel size (even)
  double radius_px = 0;  // particle radius at the output pixel size
  double peak = 0;       // max of a reference projection (scale for decoys)
};
ProjectionSource MakeSource(const SimMap& map, double out_pixel_size);

struct ComposeSetup {
  double pixel_size = 1;
  int nx = 0, ny = 0;
  std::vector<ProjectionSource> targets;
  std::unique_ptr<ProjectionSource> hard_negative;
  int targets_per_micrograph = 0;
  int hard_negatives_per_micrograph = 0;
};

enum class ObjectKind { kTarget, kHardNegative, kIceBlob, kAggregate, kCarbonEdge };
const char* ObjectKindName(ObjectKind k);  // "target", "hard_negative", "ice", "aggregate", "carbon_edge"

struct PlacedObject {
  ObjectKind kind = ObjectKind::kTarget;
  double x = 0, y = 0;  // centre, pixels (x = column, y = row)
  double radius = 0;    // pixels
  int map = 0;          // target map index
  Euler e;
};

struct ComposedMicrograph {
  CtfParams ctf;
  std::vector<PlacedObject> objects;
  double measured_snr = 0;  // var(CTF-modulated signal over target discs) / var(noise)
  double noise_sigma = 0;
  int skipped = 0;  // objects that found no free place
};

// Composes micrograph `index` into *mic (nx x ny). Deterministic for (opt.seed, index).
ComposedMicrograph ComposeMicrograph(const ComposeSetup& setup, const MicrographSimOptions& opt, int index,
                                     int fft_threads, Image* mic, Image* noiseless = nullptr);

}  // namespace emkit
