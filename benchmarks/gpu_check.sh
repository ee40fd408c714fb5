#!/usr/bin/env bash
# One call on a lent GPU: everything the GPU path needs checked or measured, in at most 6 minutes,
# with no network. Run it first whenever a GPU is available, then record the results in
# benchmarks/RESULTS.md with the date and the device.
#
#     PYTHONPATH=. bash benchmarks/gpu_check.sh            # results in benchmarks/results/gpu_check/
#     OUT=/some/dir PYTHONPATH=. bash benchmarks/gpu_check.sh
#
# Needs CuPy (and, for the cuDNN comparison, torch with CUDA). In order:
#   1. the gpu-marked tests (pytest -m gpu) on the real device;
#   2. CPU-vs-GPU parity of logits, loss and every gradient in float64, medium shape
#      (V 10k, 2 x 650, B 20, T 35), dropout on;
#   3. the cost of small CuPy operations and of creating a random generator;
#   4. benchmarks/bench_lstm.py --device cuda against torch's cuDNN nn.LSTM, TF32 allowed, then
#      TF32 forced off (CuPy runs strict FP32: the second is like for like);
#   5. one epoch of examples/train_covid.py on the GPU: its time and tokens/s.
# Each part writes a log (and JSON where it has numbers) to $OUT; summary.md lists them all.
# A part that needs what is missing (nvidia-smi, torch CUDA) is skipped with a message.
# GPU_CHECK_TINY=1 shrinks every part to seconds (the test suite runs it through the strict
# CuPy stand-in that way; its numbers then mean nothing).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

OUT="${OUT:-benchmarks/results/gpu_check}"
PY="${PYTHON:-python}"
TINY="${GPU_CHECK_TINY:-0}"
BUDGET_S="${GPU_CHECK_BUDGET_S:-350}"        # the whole run stays under 6 minutes
mkdir -p "$OUT"
SUMMARY="$OUT/summary.md"
START=$(date +%s)
FAILED=0

remaining() { echo $(( BUDGET_S - ($(date +%s) - START) )); }

# run_part NAME LOGFILE MAX_SECONDS COMMAND...: run with a time limit (never past the budget),
# log its output, and add a line to the summary.
run_part() {
    local name="$1" log="$2" limit="$3"
    shift 3
    local left
    left=$(remaining)
    if (( left < 10 )); then
        echo "| $name | SKIPPED: the 6-minute budget is spent | 0 | |" >> "$SUMMARY"
        echo "== $name: skipped, no time left"
        return 0
    fi
    (( limit > left )) && limit=$left
    echo "== $name (at most ${limit} s) -> $OUT/$log"
    local t0 t1 status
    t0=$(date +%s)
    timeout --kill-after=10 "$limit" "$@" > "$OUT/$log" 2>&1
    status=$?
    t1=$(date +%s)
    tail -n 4 "$OUT/$log" | sed 's/^/   /'
    local verdict="passed"
    if (( status == 124 || status == 137 )); then
        verdict="FAILED: timed out after ${limit} s"; FAILED=1
    elif (( status != 0 )); then
        verdict="FAILED: exit status $status"; FAILED=1
    fi
    echo "| $name | $verdict | $((t1 - t0)) | [$log]($log) |" >> "$SUMMARY"
}

skip_part() {
    echo "| $1 | SKIPPED: $2 | 0 | |" >> "$SUMMARY"
    echo "== $1: skipped: $2"
}

# ---- the machine -----------------------------------------------------------------------------
DEVICE=$("$PY" - <<'EOF' 2>&1
import sys
sys.path.insert(0, "benchmarks")
from gpu_check import device_name
print(device_name())
EOF
)
{
    echo "# gpu_check results"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- device: $DEVICE"
    echo "- python: $("$PY" -c 'import sys; print(sys.version.split()[0])')," \
         "numpy $("$PY" -c 'import numpy; print(numpy.__version__)')," \
         "cupy $("$PY" -c 'import cupy; print(cupy.__version__)' 2>&1 | tail -n 1)," \
         "torch $("$PY" -c 'import torch; print(torch.__version__, "cuda", torch.cuda.is_available())' 2>/dev/null || echo 'not installed')"
    echo "- mode: $([[ "$TINY" == 1 ]] && echo 'tiny (shapes shrunk; numbers mean nothing)' || echo 'full')"
    echo
    echo "| part | status | seconds | log |"
    echo "|---|---|---:|---|"
} > "$SUMMARY"

if command -v nvidia-smi > /dev/null 2>&1; then
    run_part "nvidia-smi" nvidia-smi.txt 20 nvidia-smi
else
    skip_part "nvidia-smi" "nvidia-smi not found (no NVIDIA driver on this machine)"
fi

TORCH_CUDA=0
"$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' > /dev/null 2>&1 && TORCH_CUDA=1

if [[ "$TINY" == 1 ]]; then
    TESTS="${GPU_CHECK_TESTS:-tests/test_11_gpu_exercises.py}"
    TINY_FLAG=(--tiny)
    BENCH=(--config tiny --steps 2 --rounds 1 --runs 1 --tokens 10)
    # a slice of the COVID corpus: the smoke run then takes seconds even through the stand-in
    mkdir -p "$OUT/tiny_covid"
    for split in train valid test; do
        head -c 30000 "scratchlstm/corpora/covid/$split.txt" > "$OUT/tiny_covid/$split.txt"
    done
    COVID=(--quick --epochs 1 --data "$OUT/tiny_covid")
else
    TESTS="${GPU_CHECK_TESTS:-tests}"
    TINY_FLAG=()
    BENCH=(--steps 20 --rounds 3 --runs 1)
    COVID=(--epochs 1)
fi

# ---- 1. the gpu tests ------------------------------------------------------------------------
# shellcheck disable=SC2086  # TESTS may name several paths
run_part "gpu tests" gpu_tests.log 150 "$PY" -m pytest -q -o addopts= -m gpu -p no:cacheprovider \
    --junitxml="$OUT/gpu_tests.xml" $TESTS

# ---- 2. parity in float64 --------------------------------------------------------------------
run_part "parity (CPU vs GPU, float64, medium shape)" parity.log 60 \
    "$PY" benchmarks/gpu_check.py parity --out "$OUT/parity.json" "${TINY_FLAG[@]}"

# ---- 3. small operations -----------------------------------------------------------------------
run_part "small operations and generator creation" small_ops.log 45 \
    "$PY" benchmarks/gpu_check.py small-ops --out "$OUT/small_ops.json" "${TINY_FLAG[@]}"

# ---- 4. bench_lstm against cuDNN ---------------------------------------------------------------
if (( TORCH_CUDA )); then
    run_part "bench_lstm vs cuDNN, TF32 allowed" bench_lstm_tf32_on.log 70 \
        "$PY" benchmarks/bench_lstm.py --device cuda --tf32 on "${BENCH[@]}"
    run_part "bench_lstm vs cuDNN, TF32 off (like for like)" bench_lstm_tf32_off.log 70 \
        "$PY" benchmarks/bench_lstm.py --device cuda --tf32 off "${BENCH[@]}"
else
    skip_part "bench_lstm vs cuDNN (TF32 on and off)" "torch with CUDA is not available; scratchlstm alone below"
    run_part "bench_lstm, scratchlstm alone" bench_lstm_ours.log 70 \
        "$PY" benchmarks/bench_lstm.py --device cuda --no-torch "${BENCH[@]}"
fi

# ---- 5. one epoch of train_covid.py ------------------------------------------------------------
RUN_DIR="$OUT/train_covid_run"
rm -rf "$RUN_DIR"
T0=$(date +%s%N)
run_part "train_covid.py, one epoch" train_covid.log 150 \
    "$PY" examples/train_covid.py --device cuda --out "$RUN_DIR" "${COVID[@]}"
MS=$(( ($(date +%s%N) - T0) / 1000000 ))
if [[ -f "$RUN_DIR/history.json" ]]; then
    "$PY" benchmarks/gpu_check.py train-summary --run "$RUN_DIR" \
        --seconds "$(printf '%d.%03d' $((MS / 1000)) $((MS % 1000)))" \
        --out "$OUT/train_covid.json" | tee -a "$OUT/train_covid.log"
fi

{
    echo
    echo "total: $(( $(date +%s) - START )) s"
} >> "$SUMMARY"
echo
cat "$SUMMARY"
exit "$FAILED"
