#!/usr/bin/env bash
# The GPU checks, as one script for a short lease of a GPU machine (run from the repository root):
#   1. every test marked `gpu` (models on CUDA against the CPU, the Diehl & Cook CUDA kernel against
#      the CPU kernel, NVML energy), and the quickstart on CUDA, side by side;
#   2. benchmarks/stdp_speed.py on the GPU at 400 neurons (CUDA kernel and torch simulation);
#   3. benchmarks/stdp_gpu.py: the 400-neuron network on 60,000 images at the default slots.
# Each stage has its own time limit and log ($OUT/<stage>.log, default runs/gpu_checks); a stage
# that fails or runs out of time does not stop the next. Data: the MNIST 10k subset, found
# through $NEUROSIM_DATA (see neurosim/tasks/mnist_subset.py).
#
#   OUT=runs/gpu_checks NEUROSIM_DATA=/path/to/data bash benchmarks/gpu_checks.sh [quick]
#
# `quick` runs 6,000 images in stage 3 instead of 60,000.
#
# The Python it runs must hold neurosim's dependencies within their pins: on an image with numpy
# >= 2.5 numba-cuda cannot compile a kernel (it registers np.row_stack, removed in 2.5) and the
# Diehl & Cook rows fall back to the torch simulation with a warning; put a numpy < 2.4 first on
# PYTHONPATH there.
set -u
OUT=${OUT:-runs/gpu_checks}
IMAGES=60000
[ "${1:-}" = quick ] && IMAGES=6000
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
PYTHON=${PYTHON:-python3}

stage() {  # stage NAME LIMIT_S COMMAND...: run, log, report the exit status and seconds
    local name=$1 limit=$2 started rc
    shift 2
    started=$(date +%s)
    timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
    rc=$?
    echo "== $name: exit $rc after $(($(date +%s) - started)) s (limit $limit s)"
    tail -n 40 "$OUT/$name.log"
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
$PYTHON -c "import sys, torch, numba, numpy; print(sys.version.split()[0], 'torch', torch.__version__,
  'cuda', torch.cuda.is_available(), 'numba', numba.__version__, 'numpy', numpy.__version__)"

stage gpu_tests 150 $PYTHON -m pytest -q -m gpu -p no:cacheprovider --continue-on-collection-errors tests/ &
stage quickstart 150 $PYTHON -m neurosim run comparisons/quickstart.toml --device cuda --out "${TMPDIR:-/tmp}/gpu_check_runs" &
wait
stage stdp_speed 100 $PYTHON benchmarks/stdp_speed.py --device cuda --neurons 400 --task mnist_10k \
    --brian2-images 0 --images 600 --exact-images 60 --torch-images 3 --batch-sizes 3,20,100
stage stdp_gpu 220 $PYTHON benchmarks/stdp_gpu.py --device cuda --images "$IMAGES"
