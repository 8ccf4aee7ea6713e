#!/bin/bash
# emkit reconstruct: the same map, bit for bit, for 1 rank x 1 thread, 1 rank x 2 threads and 2 or 3
# MPI ranks (with and without symmetry); 1100 particles make 4 blocks of 320 (8 x box), so every rank
# has work. Usage: reconstruct_identical.sh EMKIT WORKDIR
set -euo pipefail
emkit=$1 work=$2
rm -rf "$work" && mkdir -p "$work"
"$emkit" simulate particles --phantom asym --diameter 150 --pixel-size 5 --box 40 --n 1100 --snr 2 --seed 3 -q \
  -o "$work/sim"
mpirun_=(mpirun --allow-run-as-root --oversubscribe)
status=0
for sym in C1 D2; do
  args=(reconstruct -i "$work/sim/particles.star" --ctf --sym $sym -q)
  "$emkit" "${args[@]}" -o "$work/t1_$sym.mrc" --threads 1
  "$emkit" "${args[@]}" -o "$work/t2_$sym.mrc" --threads 2
  "${mpirun_[@]}" -np 2 "$emkit" "${args[@]}" -o "$work/r2_$sym.mrc" --threads 1
  "${mpirun_[@]}" -np 3 "$emkit" "${args[@]}" -o "$work/r3_$sym.mrc" --threads 1
  for run in t2 r2 r3; do
    if ! cmp -s "$work/t1_$sym.mrc" "$work/${run}_$sym.mrc"; then
      echo "DIFFERENT: ${run}_$sym.mrc vs t1_$sym.mrc"
      status=1
    fi
  done
done
# A rank that fails (here rank 0, which cannot write the map) ends the job with its message, no hang.
touch "$work/a_file"
set +e
out=$(timeout -s KILL 60 "${mpirun_[@]}" -np 2 "$emkit" reconstruct -i "$work/sim/particles.star" \
  -o "$work/a_file/map.mrc" --threads 1 2>&1)
rc=$?
set -e
if [ $rc = 0 ] || [ $rc = 137 ] || ! grep -q "a_file" <<< "$out"; then
  echo "unwritable output under mpirun: exit $rc, output: $out"
  status=1
fi
[ $status = 0 ] && echo "reconstruct: identical for 1/2 threads and 1/2/3 ranks; failures end every rank"
exit $status
