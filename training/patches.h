// Minibatches of training patches: a set fraction centred near labelled particles, the rest at
// uniform positions; per-pixel disk labels; random 90° rotations and flips. Every choice is
// drawn from Rng(seed, StreamId("cnn-batch", step)), so a batch depends only on (seed, step).
#pragma once

#include <cstdint>
#include <vector>

#include "models/cnn_model.h"
#include "training/dataset.h"

namespace emkit {

struct PatchOptions {
  // Binned pixels (square); 0 = 2 x half the receptive field + 64 (64 x 64 loss pixels). 96 keeps
  // resnet10 cheap: 128 px patches cost 3x the CPU for +0.008 F1 (benchmarks/results/cnn).
  int patch = 96;
  int batch = 16;
  double positive_fraction = 0.5;  // fraction of patches centred (with jitter) on a labelled particle
  // Fraction centred (jitter within the loss region) on mined hard negatives when there are any
  // (PN training: the model's best-scoring peaks away from every label, mined after each epoch).
  double hard_negative_fraction = 0;  // emkit train: 0.25 with PN by default (training/trainer.h)
  double label_radius = 3;            // binned pixels
  int margin = 16;                    // loss excluded within this many pixels of a patch edge
  bool augment = true;
};

// Particle centres of a micrograph in binned pixels.
std::vector<std::pair<double, double>> BinnedCentres(const AnnotatedMicrograph& m);

// Number of pixels labelled positive by one disk of the given radius.
int DiskArea(double radius);

// Labels 1 on disks around `centres` in an nx x ny map (0 elsewhere).
Image DiskLabels(int nx, int ny, const std::vector<std::pair<double, double>>& centres, double radius);

// Batch number `step`. penalty_mask is 1 on pixels of uniformly placed and hard-negative
// patches (whose unlabelled pixels follow the micrograph-wide positive fraction), 0 on
// particle-centred ones. hard_negatives: per micrograph, binned centres to sample
// opt.hard_negative_fraction of the patches around (empty or null: none).
CnnBatch SampleBatch(const std::vector<AnnotatedMicrograph>& set, const std::vector<Image>& labels,
                     const PatchOptions& opt, uint64_t seed, uint64_t step,
                     const std::vector<std::vector<std::pair<double, double>>>* hard_negatives = nullptr);

}  // namespace emkit
