#!/bin/bash
# emkit pipeline: a job with ranks = 2 runs under mpirun and gives the file the 1-rank job gives.
# Usage: pipeline_ranks.sh EMKIT MAKE_PARTICLES WORKDIR
set -euo pipefail
emkit=$1 make=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
"$make" "$work/data" 60 32
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cat > "$work/schedule.toml" <<TOML
project = "proj"
mpirun = "mpirun --oversubscribe --bind-to none"
[[job]]
name = "one"
type = "class2d"
[job.options]
i = "$work/data/particles.star"
K = 3
iter = 2
particle-diameter = 120
psi-step = 12
seed = 17
no-png = true
[[job]]
name = "two"
type = "class2d"
ranks = 2
[job.options]
i = "$work/data/particles.star"
K = 3
iter = 2
particle-diameter = 120
psi-step = 12
seed = 17
no-png = true
TOML
"$emkit" pipeline run "$work/schedule.toml" --threads 1
grep -q "^mpirun --oversubscribe --bind-to none -np 2 " "$work/proj/Class2D/job002/note.txt"
cmp "$work/proj/Class2D/job001/run_it002_classes.mrcs" "$work/proj/Class2D/job002/run_it002_classes.mrcs"
cmp "$work/proj/Class2D/job001/run_it002_data.star" "$work/proj/Class2D/job002/run_it002_data.star"
"$emkit" pipeline status "$work/schedule.toml" | grep -c " done " | grep -qx 2
echo "pipeline ranks: identical"
