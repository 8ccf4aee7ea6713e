#!/usr/bin/env bash
# Stage 40: 2D classification (emkit class2d, regularised maximum likelihood like RELION's Class2D)
# of the particles extracted in stage 30, or, when that stage has not run, of the simulated
# particles of stage 10 (their true offsets are ignored). Montage of class averages by size.
set -euo pipefail
out="$DEMO_OUT/class2d"
rm -rf "$out"
input="$DEMO_OUT/extract/particles.star"
extra=()
source_note="particles extracted from the template picks (stage 30)"
if [ ! -f "$input" ]; then
  input="$DEMO_OUT/simulate/particles/particles.star"
  extra=(--ignore-offsets)
  source_note="simulated particles of stage 10 (stage 30 output absent; true offsets ignored)"
fi
K=6
ITER=8
t0=$(date +%s.%N)
"$EMKIT" class2d -i "$input" -o "$out" --K $K --iter $ITER --particle-diameter 220 --psi-step 12 \
  --offset-range 4 --offset-step 2 --zero-mask --threads "$THREADS" --seed "$SEED" "${extra[@]}" -q > "$out.log" 2>&1 \
  || { cat "$out.log"; exit 1; }
t1=$(date +%s.%N)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
it=$(printf %03d $ITER)
n=$(grep -cE '@' "$out/run_it${it}_data.star" || true)
model="$out/run_it${it}_model.star"
res=$(awk '/_rlnCurrentResolution/{print $2}' "$model")
pmax=$(awk '/_rlnAveragePmax/{print $2}' "$model")
dist=$(awk '/data_model_classes/{f=1} f&&/@/{printf "%.2f ", $2} /data_model_class_1$/{exit}' "$model")
{
  echo "## 2D classification (emkit class2d)"
  echo
  echo "Input: $source_note, $n particles. K=$K, $ITER iterations, psi step 12°, offsets ±4 px step 2 px,"
  echo "T=2, 220 Å mask, $THREADS thread(s), seed $SEED: $secs s in all."
  echo
  echo "- Resolution of the last iteration (SSNR = 1): $res Å; average Pmax $pmax."
  echo "- Class distribution (class 1..$K): $dist"
  echo
  echo "Class averages, largest class first:"
  echo
  echo "![class averages](class2d/run_it${it}_classes.png)"
} > "$DEMO_OUT/report/40-class2d.md"
echo "class2d: $n particles, K=$K, $ITER iterations in $secs s"
