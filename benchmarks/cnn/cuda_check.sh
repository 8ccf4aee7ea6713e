#!/usr/bin/env bash
# CUDA check of the CNN model code: builds benchmarks/cnn/cuda_check.cc against the LibTorch inside
# python3's torch (a CUDA build, e.g. on a GPU machine without emkit's other dependencies) and runs
# it: CPU vs CUDA maps and losses, CUDA determinism, checkpoint/model files across devices, speed.
#   usage: benchmarks/cnn/cuda_check.sh [OUT_DIR (/tmp/emkit_cuda_check)]
#   env:   PYTHON (python3), NLOHMANN_INCLUDE (folder holding nlohmann/json.hpp, if not in /usr/include),
#          CXXSTD (c++20: newer LibTorch headers need it)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=$(realpath -m "${1:-/tmp/emkit_cuda_check}")
mkdir -p "$OUT"
PY=${PYTHON:-python3}
T=$($PY -c "import torch, os; print(os.path.dirname(torch.__file__))")
ABI=$($PY -c "import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))")
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available())"
INC=(-I. -isystem "$T/include" -isystem "$T/include/torch/csrc/api/include")
[ -n "${NLOHMANN_INCLUDE:-}" ] && INC+=(-isystem "$NLOHMANN_INCLUDE")
FLAGS=(-std="${CXXSTD:-c++20}" -O2 -fPIC -D_GLIBCXX_USE_CXX11_ABI="$ABI")
pids=()
for s in core/error.cc core/files.cc core/image.cc models/cnn_torch.cc models/device_torch.cc \
  benchmarks/cnn/cuda_check.cc; do
  g++ "${FLAGS[@]}" "${INC[@]}" -c "$s" -o "$OUT/$(basename "$s" .cc).o" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
g++ -o "$OUT/cuda_check" "$OUT"/*.o -L"$T/lib" -Wl,-rpath,"$T/lib" -Wl,--no-as-needed -ltorch -ltorch_cuda \
  -ltorch_cpu -lc10_cuda -lc10 -Wl,--as-needed -lpthread
"$OUT/cuda_check" "$OUT"
