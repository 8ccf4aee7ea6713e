#!/bin/bash
# emkit class3d: the same files, bit for bit, for 1 rank x 1 thread, 1 rank x 2 threads and 2 or 3 MPI
# ranks: two simulated conformations (240 particles, blocks of 4: every rank has work), K = 2 from a
# reference, 3 iterations (the seeded first one included), C1 and C2 coarse to fine (--oversampling 1, with
# --maxsig 20 so that the cap binds), and C1 on the grid alone (the default).
# Usage: class3d_identical.sh EMKIT WORKDIR
set -euo pipefail
emkit=$1 work=$2
rm -rf "$work" && mkdir -p "$work"
"$emkit" simulate particles --phantom asym --diameter 150 --pixel-size 5 --box 32 --n 120 --snr 1 --seed 3 -q \
  -o "$work/a"
"$emkit" simulate particles --phantom asym-broken --diameter 150 --pixel-size 5 --box 32 --n 120 --snr 1 \
  --seed 4 -q -o "$work/b"
# One STAR with both stacks (the optics block and the columns of the first).
{ sed -n '1,/^_rlnClassNumber/p' "$work/a/particles.star"
  grep '@' "$work/a/particles.star" | sed "s|[^ ]*particles.mrcs|&|"
  grep '@' "$work/b/particles.star" | sed "s|@[^ ]*particles.mrcs|@$work/b/particles.mrcs|"
  echo " "; } > "$work/particles.star"
"$emkit" reconstruct -i "$work/a/particles.star" -o "$work/ref.mrc" --ctf -q
mpirun_=(mpirun --allow-run-as-root --oversubscribe)
status=0
for case in C1 C2 C1grid; do
  sym=${case:0:2}
  extra=(--oversampling 1 --maxsig 20)
  [ "$case" = C1grid ] && extra=()
  args=(class3d -i "$work/particles.star" --ref "$work/ref.mrc" --K 2 --iter 3 --ini-high 40 --healpix-order 1
        --offset-range 2 --particle-diameter 150 --sym $sym --chunk 4 --seed 5 -q --no-png "${extra[@]}")
  "$emkit" "${args[@]}" -o "$work/t1_$case" --threads 1
  "$emkit" "${args[@]}" -o "$work/t2_$case" --threads 2
  "${mpirun_[@]}" -np 2 "$emkit" "${args[@]}" -o "$work/r2_$case" --threads 1
  "${mpirun_[@]}" -np 3 "$emkit" "${args[@]}" -o "$work/r3_$case" --threads 1
  for run in t2 r2 r3; do
    for f in run_it003_data.star run_it003_class001.mrc run_it003_class002.mrc; do
      if ! cmp -s "$work/t1_$case/$f" "$work/${run}_$case/$f"; then
        echo "DIFFERENT: ${run}_$case/$f vs t1_$case/$f"
        status=1
      fi
    done
    # The model names its maps by their paths: the same but for the run's folder.
    if ! cmp -s <(sed "s|${run}_$case/|t1_$case/|" "$work/${run}_$case/run_it003_model.star") \
      "$work/t1_$case/run_it003_model.star"; then
      echo "DIFFERENT: ${run}_$case/run_it003_model.star vs t1_$case/run_it003_model.star"
      status=1
    fi
  done
done
[ $status = 0 ] && echo "class3d: identical for 1/2 threads and 1/2/3 ranks (C1, C2, C1 on the grid alone)"
exit $status
