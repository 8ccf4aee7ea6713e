#!/usr/bin/env bash
# The emkit demo on built-in data: installs missing packages, builds, then runs every stage
# in scripts/demo.d/ in order (simulate -> pick -> extract -> classify ...). Each stage writes
# into $DEMO_OUT/<stage>/ and a Markdown fragment into $DEMO_OUT/report/; the fragments are
# joined into $DEMO_OUT/report.md (pictures beside it).
#   usage: scripts/demo.sh [output folder (default: demo_output)]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export DEMO_OUT="$(realpath -m "${1:-demo_output}")"
export EMKIT="$(pwd)/build/apps/emkit"
export THREADS="${EMKIT_THREADS:-$(nproc)}"
export SEED="${EMKIT_SEED:-42}"
rm -rf "$DEMO_OUT"
mkdir -p "$DEMO_OUT/report"
start=$(date +%s)
for stage in scripts/demo.d/*.sh; do
  name=$(basename "$stage" .sh)
  echo "== demo stage $name"
  t0=$(date +%s)
  bash "$stage"
  echo "   ($name took $(( $(date +%s) - t0 )) s)"
done
{
  echo "# emkit demo report"
  echo
  echo "Built-in data only, seed $SEED, $THREADS thread(s), $(date -u +%Y-%m-%dT%H:%MZ), $(( $(date +%s) - start )) s in all."
  echo
  for f in "$DEMO_OUT"/report/*.md; do cat "$f"; echo; done
} > "$DEMO_OUT/report.md.tmp"
mv "$DEMO_OUT/report.md.tmp" "$DEMO_OUT/report.md"
echo "demo report: $DEMO_OUT/report.md"
