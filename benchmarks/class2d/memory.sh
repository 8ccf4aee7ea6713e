#!/usr/bin/env bash
# Peak memory of emkit class2d (emkit only; RELION's peaks are in ../results/class2d/*.json), measured
# like run.sh: /usr/bin/time -v "Maximum resident set size", same particles and flags.
#   N=2000 K=10:  15 iterations, 2 threads (the whole run; also with --norm --scale).
#   N=20000 K=50: iterations 1-2, then ONE iteration at image size 50 (the size of the benchmark's final
#                 iteration 15, where emkit peaks) continued from iteration 2's model with its
#                 rlnCurrentImageSize set to 50; its weights are denser than iteration 15's, so this is an
#                 upper bound for that iteration. ~30 min on 2 cores.
# Usage: benchmarks/class2d/memory.sh [EMKIT] [WORKDIR]   (needs run.sh's p$N/ and input$N.star in WORKDIR:
#        run.sh creates them; or run its first lines)
set -euo pipefail
emkit=${1:-build/apps/emkit}
work=${2:-/tmp/emkit_bench_class2d}
cd "$work"
flags=(--particle-diameter 300 --psi-step 12 --offset-range 5 --offset-step 2 --zero-mask --seed 1 --no-center-classes)
peak() { grep "Maximum resident" "$1" | awk '{printf "%.1f MB", $NF / 1024}'; }
for corr in "" "--norm --scale"; do
  tag=${corr:+_ns}
  rm -rf mem2000$tag
  /usr/bin/time -v -o mem2000$tag.time "$emkit" class2d --i input2000.star --o mem2000$tag --K 10 "${flags[@]}" \
    --iter 15 --threads 2 $corr -q
  echo "N=2000 K=10 15 iterations 2 threads $corr: $(peak mem2000$tag.time)"
done
rm -rf mem20000 mem20000_s50 && mkdir -p mem20000_s50
"$emkit" class2d --i input20000.star --o mem20000 --K 50 "${flags[@]}" --iter 2 --threads 2 -q
cp mem20000/run_it002_model.star mem20000/run_it002_data.star mem20000_s50/
sed -i 's/^_rlnCurrentImageSize .*/_rlnCurrentImageSize 50/' mem20000_s50/run_it002_model.star
/usr/bin/time -v -o mem20000_s50.time "$emkit" class2d --continue mem20000_s50/run_it002_model.star \
  --o mem20000_s50/out --iter 3 "${flags[@]}" --threads 2 -q
echo "N=20000 K=50 one iteration at image size 50, 2 threads: $(peak mem20000_s50.time)"
