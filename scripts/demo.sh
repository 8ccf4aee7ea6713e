#!/usr/bin/env bash
# The emkit demo on built-in data: installs missing packages, builds, runs the schedule
# scripts/demo.toml with `emkit pipeline` (simulate -> pick -> train CNN -> evaluate -> extract ->
# classify; one folder per job, Simulate/job001/ ...), then each scripts/demo.d/ stage writes a
# Markdown fragment from the job folders into $DEMO_OUT/report/; the fragments are joined into
# $DEMO_OUT/report.md (pictures beside it). A second run re-runs only the jobs whose options or
# inputs changed (EMKIT_DEMO_FRESH=1 starts from an empty folder).
#   usage: scripts/demo.sh [output folder (default: demo_output)]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export DEMO_OUT="$(realpath -m "${1:-demo_output}")"
export EMKIT="$(pwd)/build/apps/emkit"
export THREADS="${EMKIT_THREADS:-$(nproc)}"
export SEED="${EMKIT_SEED:-42}"
[ "${EMKIT_DEMO_FRESH:-0}" = 1 ] && rm -rf "$DEMO_OUT"
rm -rf "$DEMO_OUT/report"
mkdir -p "$DEMO_OUT/report"
start=$(date +%s)
"$EMKIT" pipeline run scripts/demo.toml -o "$DEMO_OUT" --threads "$THREADS" --seed "$SEED"
for stage in scripts/demo.d/*.sh; do
  bash "$stage"
done
{
  echo "# emkit demo report"
  echo
  echo "Built-in data only, seed $SEED, $THREADS thread(s), $(date -u +%Y-%m-%dT%H:%MZ), $(( $(date +%s) - start )) s in all"
  echo "(jobs: $(awk '/^seconds = /{s += $3} END{printf "%.0f", s}' "$DEMO_OUT"/*/job*/job.toml) s wall, $(awk '/^cpu_seconds = /{s += $3} END{printf "%.0f", s}' "$DEMO_OUT"/*/job*/job.toml) CPU-s; a job done in an earlier run is not run again; load at the end: $(cut -d' ' -f1-3 /proc/loadavg))."
  echo
  for f in "$DEMO_OUT"/report/*.md; do cat "$f"; echo; done
} > "$DEMO_OUT/report.md.tmp"
mv "$DEMO_OUT/report.md.tmp" "$DEMO_OUT/report.md"
echo "demo report: $DEMO_OUT/report.md"
