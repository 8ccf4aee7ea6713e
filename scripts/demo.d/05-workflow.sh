#!/usr/bin/env bash
# Stage 5: the workflow itself (scripts/demo.toml run by emkit pipeline): each job's folder, state,
# run time and main result.
set -euo pipefail
{
  echo "## Workflow (emkit pipeline)"
  echo
  echo "The demo is the schedule \`scripts/demo.toml\`, run with \`emkit pipeline run scripts/demo.toml -o DIR\`:"
  echo "one folder per job with its effective options, log (run.out, run.err), outputs and completion marker;"
  echo "\`default_pipeline.star\` shows the project in RELION's GUI. \`emkit pipeline status\`:"
  echo
  echo '```'
  "$EMKIT" pipeline status scripts/demo.toml -o "$DEMO_OUT" --seed "$SEED"
  echo '```'
} > "$DEMO_OUT/report/05-workflow.md"
