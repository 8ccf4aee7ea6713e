#!/usr/bin/env bash
# Stage 40: 2D classification (job class2d: regularised maximum likelihood like RELION's Class2D)
# of the extracted particles. Montage of class averages by size.
set -euo pipefail
source "$(dirname "$0")/common.inc"
K=6
ITER=8
out="$P/$CLASS2D"
it=$(printf %03d $ITER)
n=$(grep -cE '@' "$out/run_it${it}_data.star" || true)
model="$out/run_it${it}_model.star"
res=$(awk '/_rlnCurrentResolution/{print $2}' "$model")
pmax=$(awk '/_rlnAveragePmax/{print $2}' "$model")
dist=$(awk '/data_model_classes/{f=1} f&&/@/{printf "%.2f ", $2} /data_model_class_1$/{exit}' "$model")
{
  echo "## 2D classification (emkit class2d)"
  echo
  echo "Input: particles extracted from the template picks (stage 30), $n particles. K=$K, $ITER iterations, psi step 12°,"
  echo "offsets ±4 px step 2 px, T=2, 220 Å mask, $THREADS thread(s), seed $SEED: $(job_seconds $CLASS2D) s in all."
  echo
  echo "- Resolution of the last iteration (SSNR = 1): $res Å; average Pmax $pmax."
  echo "- Class distribution (class 1..$K): $dist"
  echo
  echo "Class averages, largest class first:"
  echo
  echo "![class averages]($CLASS2D/run_it${it}_classes.png)"
} > "$DEMO_OUT/report/40-class2d.md"
echo "class2d: $n particles, K=$K, $ITER iterations in $(job_seconds $CLASS2D) s"
