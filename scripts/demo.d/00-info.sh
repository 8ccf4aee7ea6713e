#!/usr/bin/env bash
# Stage 0: the tool itself.
set -euo pipefail
mkdir -p "$DEMO_OUT/info"
"$EMKIT" --version > "$DEMO_OUT/info/version.txt"
{
  echo "## emkit"
  echo
  echo "\`$(cat "$DEMO_OUT/info/version.txt")\`; commands:"
  echo
  echo '```'
  "$EMKIT" --help | sed -n '/Commands:/,/^$/p'
  echo '```'
} > "$DEMO_OUT/report/00-info.md"
