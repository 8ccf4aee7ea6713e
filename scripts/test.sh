#!/usr/bin/env bash
# The whole test suite: installs missing packages, builds, runs every CTest test
# (labels: unit, slow, mpi, relion, fuzz). Extra arguments go to ctest (e.g. -L unit).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cd build
ctest --output-on-failure -j "${EMKIT_TEST_JOBS:-2}" "$@"
