#!/bin/bash
# Same --seed => bit-identical run_it003_classes.mrcs and _data.star for 1 rank x 1 thread,
# 1 rank x 2 threads, and 2 and 3 MPI ranks; without and with --norm --scale. Usage: class2d_identical.sh EMKIT MAKE_PARTICLES WORKDIR
set -euo pipefail
emkit=$1 make=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
"$make" "$work/data" 60 32
args=(class2d --i "$work/data/particles.star" --K 3 --iter 3 --particle-diameter 120 --psi-step 12
      --offset-range 3 --offset-step 1 --seed 17 --no-png -q)
mpirun_=(mpirun --allow-run-as-root --oversubscribe)
status=0
for corr in "" "--norm --scale"; do
  tag=${corr:+_ns}
  "$emkit" "${args[@]}" $corr --o "$work/t1$tag" --threads 1
  "$emkit" "${args[@]}" $corr --o "$work/t2$tag" --threads 2
  "${mpirun_[@]}" -np 1 "$emkit" "${args[@]}" $corr --o "$work/r1$tag" --threads 1
  "${mpirun_[@]}" -np 2 "$emkit" "${args[@]}" $corr --o "$work/r2$tag" --threads 1
  "${mpirun_[@]}" -np 3 "$emkit" "${args[@]}" $corr --o "$work/r3$tag" --threads 1
  "${mpirun_[@]}" -np 2 "$emkit" "${args[@]}" $corr --o "$work/r2t2$tag" --threads 2
  for run in t2 r1 r2 r3 r2t2; do
    for f in run_it003_classes.mrcs run_it003_data.star; do
      if ! cmp -s "$work/t1$tag/$f" "$work/$run$tag/$f"; then
        echo "DIFFERENT: $run$tag/$f vs t1$tag/$f"
        status=1
      fi
    done
    # The model names its own folder's classes.mrcs: compare everything else.
    if ! cmp -s <(sed "s#$work/t1$tag/##" "$work/t1$tag/run_it003_model.star") \
                <(sed "s#$work/$run$tag/##" "$work/$run$tag/run_it003_model.star"); then
      echo "DIFFERENT: $run$tag/run_it003_model.star vs t1$tag"
      status=1
    fi
  done
done
# The corrections must have done something: norms and group scales away from 1.
if ! grep -q "_rlnDoCorrectNorm *1" "$work/t1_ns/run_it003_optimiser.star" ||
   cmp -s "$work/t1/run_it003_data.star" "$work/t1_ns/run_it003_data.star"; then
  echo "--norm --scale had no effect"
  status=1
fi
[ $status = 0 ] && echo "class2d: identical outputs for threads 1/2 and ranks 1/2/3, without and with --norm --scale"
exit $status
