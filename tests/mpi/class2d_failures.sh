#!/bin/bash
# Any rank's failure ends every rank with the message and a non-zero exit within seconds (a hang
# fails the test through `timeout`): rank 0 cannot create the output folder, rank 0 cannot write
# an iteration's file while the other ranks wait in the next collective, a broken particle stack,
# and a stack that only the last rank reads truncated while the job runs. Usage: class2d_failures.sh EMKIT MAKE_PARTICLES WORKDIR
set -uo pipefail
emkit=$1 make=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
"$make" "$work/data" 40 32 || exit 1
args=(class2d --i "$work/data/particles.star" --K 2 --iter 2 --particle-diameter 120 --psi-step 30
      --offset-range 2 --offset-step 1 --no-png -q --threads 1)
status=0

# expect NAME NP PATTERN -- command...: the run must fail (not time out) and print PATTERN.
expect() {
  local name=$1 np=$2 pattern=$3
  shift 4
  local start=$SECONDS
  timeout -s KILL 60 mpirun --allow-run-as-root --oversubscribe -np "$np" "$emkit" "$@" >"$work/$name.out" 2>&1
  local rc=$?
  local took=$((SECONDS - start))
  if [ $rc = 0 ]; then
    echo "FAILED $name: exit status 0"; status=1
  elif [ $rc = 137 ]; then
    echo "FAILED $name: hung (killed after 60 s)"; status=1
  elif ! grep -q -- "$pattern" "$work/$name.out"; then
    echo "FAILED $name: no '$pattern' in the output:"; cat "$work/$name.out"; status=1
  else
    echo "ok $name: exit $rc after ${took} s"
  fi
}

# Rank 0 cannot create the output folder (a path under a regular file).
touch "$work/a_file"
for np in 2 3; do
  expect "folder_np$np" $np "a_file/out" -- "${args[@]}" --o "$work/a_file/out"
done

# Rank 0 cannot write iteration 1 (a folder where its data.star goes) while the others wait.
for np in 2 3; do
  mkdir -p "$work/blocked_np$np/run_it001_data.star"
  expect "write_np$np" $np "run_it001_data.star: cannot rename" -- "${args[@]}" --o "$work/blocked_np$np"
done

# A truncated stack holding only the particles of the last rank.
mkdir -p "$work/split"
cp "$work/data/particles.mrcs" "$work/split/first.mrcs"
cp "$work/data/particles.mrcs" "$work/split/last.mrcs"
truncate -s 2000 "$work/split/last.mrcs"
awk -v dir="$work/split" '
  /particles.mrcs/ { n++; sub(/@[^ \t]*particles\.mrcs/, n > 30 ? "@" dir "/last.mrcs" : "@" dir "/first.mrcs") }
  { print }' "$work/data/particles.star" >"$work/split/particles.star"
split_args=("${args[@]}")
split_args[2]="$work/split/particles.star"
expect "stack_np2" 2 "last.mrcs" -- "${split_args[@]}" --o "$work/split_out"

# The same stack truncated while the job runs, after every rank has read its header: only the
# last rank's next read fails, inside an E-step (an agreement point).
cp "$work/data/particles.mrcs" "$work/split/last.mrcs"
late_args=("${split_args[@]}")
late_args[6]=200  # --iter
timeout -s KILL 60 mpirun --allow-run-as-root --oversubscribe -np 2 "$emkit" "${late_args[@]}" \
  --o "$work/late_out" >"$work/late.out" 2>&1 &
pid=$!
for _ in $(seq 300); do
  [ -f "$work/late_out/run_it000_optimiser.star" ] && break
  sleep 0.1
done
truncate -s 2000 "$work/split/last.mrcs"
start=$SECONDS
wait $pid
rc=$?
if [ $rc = 0 ] || [ $rc = 137 ] || ! grep -q "last.mrcs" "$work/late.out" ||
   [ -f "$work/late_out/run_it200_optimiser.star" ]; then
  echo "FAILED late_read: exit $rc"; cat "$work/late.out"; status=1
else
  echo "ok late_read: exit $rc $((SECONDS - start)) s after the truncation"
fi

[ $status = 0 ] && echo "class2d under mpirun: every failure ends every rank with its message"
exit $status
