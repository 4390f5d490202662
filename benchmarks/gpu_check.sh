#!/usr/bin/env bash
# One-shot GPU check (issue 23): at most ~8 minutes on one GPU, every part time-boxed.
#   1. the CUDA-marked tests (pytest -m cuda)
#   2. drol bench --device cuda --json at paper sizes (4x512, batch 256), eager fp32, for every
#      registered method (DROL at K = 1, 4, 8, 16) with --seeds 1 and 8
#   3. a short DROL(16) drol train --seeds 0,1 on a small generated OGBench dataset
#   4. evaluation episodes/s, sequential vs lockstep (benchmarks/eval_lockstep.py)
# then benchmarks/gpu_check_report.py writes $OUT/report.json and $OUT/report.md.
#
# Usage (drol installed; OUT is relative to the current directory):
#   benchmarks/gpu_check.sh                       # on the GPU, into gpu_check_out/
#   DEVICE=cpu OUT=/tmp/check benchmarks/gpu_check.sh   # the same on CPU, tiny sizes and steps
# Every setting below can be overridden from the environment (METHODS="fql drol", KS="16", ...).
# Exit code: 0 when every part passed, 1 otherwise (the report is written either way).
set -euo pipefail

DEVICE=${DEVICE:-cuda}
OUT=$(realpath -m "${OUT:-gpu_check_out}")
cd "$(dirname "$0")/.." # the repository root: tests/ and benchmarks/ are found from here
PYTHON=${PYTHON:-python}
if [[ $DEVICE == cuda ]]; then
  : "${HIDDEN:=512}" "${BATCH:=256}" "${STEPS:=20}" "${REPEATS:=3}" "${WARMUP:=3}"
  : "${TRAIN_STEPS:=1000}" "${TRAIN_HIDDEN:=512}" "${TRAIN_BATCH:=256}" "${EPISODES:=20}"
  : "${EVAL_EPISODES:=5}" "${LOCKSTEP_EPISODES:=20}" "${LOCKSTEP_HIDDEN:=512}"
  # limits: 80 + (215 + 10) + 120 + 45 = 470 s, the report a few more: under 8 minutes
  : "${PYTEST_S:=80}" "${BENCH_S:=215}" "${BENCH_CALL_S:=60}" "${TRAIN_S:=120}" "${EVAL_S:=45}"
elif [[ $DEVICE == cpu ]]; then
  : "${HIDDEN:=16}" "${BATCH:=8}" "${STEPS:=2}" "${REPEATS:=1}" "${WARMUP:=1}"
  : "${TRAIN_STEPS:=4}" "${TRAIN_HIDDEN:=16}" "${TRAIN_BATCH:=8}" "${EPISODES:=3}"
  : "${EVAL_EPISODES:=1}" "${LOCKSTEP_EPISODES:=2}" "${LOCKSTEP_HIDDEN:=16}"
  : "${PYTEST_S:=120}" "${BENCH_S:=300}" "${BENCH_CALL_S:=60}" "${TRAIN_S:=120}" "${EVAL_S:=60}"
else
  echo "gpu_check.sh: DEVICE must be cuda or cpu, got '$DEVICE'" >&2
  exit 2
fi
SEEDS_LIST=${SEEDS_LIST:-1 8}
KS=${KS:-1 4 8 16}
PYTEST_ARGS=${PYTEST_ARGS:-tests}
TASK=${TASK:-pointmaze-medium-navigate-singletask-task1-v0}
DATASET=${DATASET:-pointmaze-medium-navigate-v0}
METHODS=${METHODS:-$("$PYTHON" -c 'from drol.agents import method_names; print(" ".join(method_names()))')}

mkdir -p "$OUT"
: >"$OUT/parts.tsv"
: >"$OUT/bench.jsonl"
export DEVICE OUT HIDDEN BATCH STEPS REPEATS TRAIN_STEPS TRAIN_HIDDEN TRAIN_BATCH EVAL_EPISODES

# part NAME SECONDS CMD...: run CMD under `timeout`, log to $OUT/NAME.log, record rc and seconds
part() {
  local name=$1 limit=$2 t0 rc
  shift 2
  t0=$(date +%s)
  set +e
  timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
  rc=$?
  set -e
  printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$(($(date +%s) - t0))" "$limit" >>"$OUT/parts.tsv"
  echo "gpu_check: $name: exit $rc in $(($(date +%s) - t0)) s" >&2
}

# 1. the CUDA-marked tests
part pytest "$PYTEST_S" "$PYTHON" -m pytest -m cuda -q -p no:cacheprovider \
  --junitxml "$OUT/pytest.xml" $PYTEST_ARGS

# 2. drol bench: the most used configurations first, so a budget cut leaves the rest
bench_all() {
  local deadline=$(($(date +%s) + BENCH_S)) failed=0 method K S
  local configs=("drol 16" "fql 16")
  for K in $KS; do [[ $K == 16 ]] || configs+=("drol $K"); done
  for method in $METHODS; do
    [[ $method == drol || $method == fql ]] || configs+=("$method 16")
  done
  for config in "${configs[@]}"; do
    read -r method K <<<"$config"
    [[ " $METHODS " == *" $method "* ]] || continue
    for S in $SEEDS_LIST; do
      if (($(date +%s) + 5 > deadline)); then
        echo "skipped (bench budget ${BENCH_S}s spent): $method K=$K S=$S"
        failed=1
        continue
      fi
      if ! timeout "$BENCH_CALL_S" "$PYTHON" -m drol bench --method "$method" --K "$K" \
        --seeds "$S" --device "$DEVICE" --hidden "$HIDDEN" --batch-size "$BATCH" \
        --repeats "$REPEATS" --steps "$STEPS" --warmup "$WARMUP" --set compile=off --json \
        >>"$OUT/bench.jsonl" 2>"$OUT/bench_call.err"; then
        cat "$OUT/bench_call.err"
        if grep -q "not seed-batched" "$OUT/bench_call.err"; then
          echo "unsupported: $method K=$K S=$S" # a method drol.speed.seed_batch cannot batch
        else
          echo "failed: $method K=$K S=$S"
          failed=1
        fi
      fi
    done
  done
  return $failed
}
export -f bench_all
export BENCH_S BENCH_CALL_S KS METHODS SEEDS_LIST REPEATS WARMUP PYTHON
part bench "$((BENCH_S + 10))" bash -c bench_all

# 3. a short DROL(16) training run of two seeds (one seed-batched step) on generated data
train() {
  "$PYTHON" -m drol data generate "$DATASET" --episodes "$EPISODES" --out "$OUT/data" \
    --jobs 2 --no-progress
  "$PYTHON" -m drol train --task "$TASK" --method drol --K 16 --seeds 0,1 \
    --steps "$TRAIN_STEPS" --eval-every "$TRAIN_STEPS" --eval-episodes "$EVAL_EPISODES" \
    --data-dir "$OUT/data" --out "$OUT/train/seed{seed}" --device "$DEVICE" \
    --set hidden="$TRAIN_HIDDEN" --set batch_size="$TRAIN_BATCH" --set logger=none \
    --set log_every="$(((TRAIN_STEPS + 1) / 2))" --set checkpoint_every="$TRAIN_STEPS"
}
export -f train
export DATASET TASK EPISODES
part train "$TRAIN_S" bash -c train

# 4. evaluation episodes/s, sequential vs lockstep (a policy that draws nothing: IQL)
part eval "$EVAL_S" "$PYTHON" benchmarks/eval_lockstep.py --task "$TASK" --method iql \
  --episodes "$LOCKSTEP_EPISODES" --hidden "$LOCKSTEP_HIDDEN"

"$PYTHON" benchmarks/gpu_check_report.py "$OUT"
