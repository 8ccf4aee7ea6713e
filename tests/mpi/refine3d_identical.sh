#!/bin/bash
# emkit refine3d: the same files, bit for bit, for 1 rank x 1 thread, 1 rank x 2 threads and 2 or 3 MPI
# ranks: a simulated phantom (150 particles in blocks of 4: every rank has work in both halves), 2
# iterations of global searches, and 2 of local searches around the STAR file's angles (C1 and D2).
# Usage: refine3d_identical.sh EMKIT WORKDIR
set -euo pipefail
emkit=$1 work=$2
rm -rf "$work" && mkdir -p "$work"
"$emkit" simulate particles --phantom asym --diameter 150 --pixel-size 5 --box 32 --n 150 --snr 1 --seed 3 -q \
  -o "$work/sim"
"$emkit" reconstruct -i "$work/sim/particles.star" -o "$work/ref.mrc" --ctf -q
mpirun_=(mpirun --allow-run-as-root --oversubscribe)
status=0
for mode in global_C1 local_C1 local_D2; do
  sym=${mode#*_}
  args=(refine3d -i "$work/sim/particles.star" --ref "$work/ref.mrc" --iter 2 --ini-high 40 --offset-range 2
        --particle-diameter 150 --sym $sym --chunk 4 --seed 5 -q --no-png)
  if [ "${mode%_*}" = global ]; then args+=(--healpix-order 1 --ignore-offsets); else
    args+=(--healpix-order 3 --auto-local-healpix-order 3); fi
  "$emkit" "${args[@]}" -o "$work/t1_$mode" --threads 1
  "$emkit" "${args[@]}" -o "$work/t2_$mode" --threads 2
  "${mpirun_[@]}" -np 2 "$emkit" "${args[@]}" -o "$work/r2_$mode" --threads 1
  "${mpirun_[@]}" -np 3 "$emkit" "${args[@]}" -o "$work/r3_$mode" --threads 1
  for run in t2 r2 r3; do
    for f in run_it002_data.star run_it002_half1_class001.mrc run_it002_half2_class001.mrc; do
      if ! cmp -s "$work/t1_$mode/$f" "$work/${run}_$mode/$f"; then
        echo "DIFFERENT: ${run}_$mode/$f vs t1_$mode/$f"
        status=1
      fi
    done
    if ! cmp -s <(sed "s|${run}_$mode/|t1_$mode/|" "$work/${run}_$mode/run_it002_half1_model.star") \
      "$work/t1_$mode/run_it002_half1_model.star"; then
      echo "DIFFERENT: ${run}_$mode/run_it002_half1_model.star vs t1_$mode/run_it002_half1_model.star"
      status=1
    fi
  done
done
grep -q "_rlnOrientationalPriorMode  *1" "$work/t1_local_C1/run_it002_sampling.star" || {
  echo "local searches not used"; status=1; }
[ $status = 0 ] && echo "refine3d: identical for 1/2 threads and 1/2/3 ranks (global C1, local C1 and D2)"
exit $status
