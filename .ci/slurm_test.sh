#!/usr/bin/env bash
# SLURM test, run by .ci/run (needs root and apt access on Debian 12; 5-7 min).
#
# 1. Starts the localhost SLURM cluster (.ci/local_slurm.sh; installs slurm-wlm + munge if missing).
# 2. Grid: .test/config/slurm.yaml (3 training jobs submitted as one SLURM job array, data
#    generation, then manifest/aggregate/tables as local rules) through the SLURM executor with
#    profiles/slurm-ci. Checks that every training run was a COMPLETED SLURM job whose log names
#    its output, and that the tables hold the runs' scores.
# 3. Preemption: one longer training run (~150 s at the speed of a calibration run) with a SLURM time
#    limit of 1 minute on its first attempt. SLURM kills it (TIMEOUT), Snakemake resubmits it
#    (--retries 1, runtime 10 min on attempt 2), and the second attempt logs "resuming from step N"
#    with N > 0 and finishes. Checked from Snakemake's log, SLURM's job records and the run's log.
# The daemons (and any job still queued) are stopped on exit, also on failure or timeout.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ -z "${VIRTUAL_ENV:-}" ] && [ -f .venv/bin/activate ]; then
  # shellcheck disable=SC1091
  source .venv/bin/activate
fi
command -v snakemake >/dev/null || {
  echo "slurm_test: snakemake not on PATH (activate the venv)" >&2
  exit 2
}

CFG=.test/config/slurm.yaml
OUT=results/ci-slurm # = results_dir of $CFG
SLOGS=$OUT/slurm_logs
TASK=pointmaze-medium-navigate-singletask-task1-v0
T0=$SECONDS

say() { printf '[slurm_test %3ss] %s\n' "$((SECONDS - T0))" "$*"; }

exec 3>&1 4>&2
# bounded LIMIT CMD...: run CMD in the background under `timeout -s KILL` (Snakemake can hang on
# SIGTERM) and wait for it; waiting in the background lets a TERM to this script run the cleanup
CHILD=
bounded() {
  local limit=$1 rc=0
  shift
  timeout -s KILL "$limit" "$@" &
  CHILD=$!
  wait "$CHILD" || rc=$?
  CHILD=
  [ "$rc" -ne 137 ] || say "timed out after ${limit}s: $*"
  return "$rc"
}

cleanup() {
  local rc=$?
  trap '' TERM INT HUP # ignore the repeated signals of an outer timeout while cleaning up
  exec 1>&3 2>&4 # a signal may arrive inside a redirected command: report to the original outputs
  if [ -n "$CHILD" ]; then
    say "killing the running command (timeout pid $CHILD)"
    pkill -KILL -P "$CHILD" 2>/dev/null || true
    kill -KILL "$CHILD" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ]; then
    say "FAILED (rc=$rc); cluster state and log tails follow"
    timeout -k 5 20 bash .ci/local_slurm.sh status 2>&1 | tail -n 20 || true
    for f in "$OUT"/snakemake_*.log; do
      [ -f "$f" ] && { echo "---- tail $f"; tail -n 40 "$f"; }
    done
  fi
  say "stopping the cluster"
  timeout -k 5 60 bash .ci/local_slurm.sh stop || true
  say "total ${SECONDS}s"
  exit "$rc"
}
trap cleanup EXIT
trap "exit 143" TERM INT HUP

# snakemake with the CI profile; output goes to a log file, whose tail is shown
smk() {
  local name=$1 limit=$2 rc=0
  shift 2
  say "snakemake ($name): $*"
  bounded "$limit" snakemake --workflow-profile slurm-ci --slurm-logdir "$SLOGS" "$@" >"$OUT/snakemake_$name.log" 2>&1 || rc=$?
  grep -E "submitted with SLURM jobid|SLURM status is|of [0-9]+ steps|Error in rule" "$OUT/snakemake_$name.log" || true
  if [ "$rc" -ne 0 ]; then
    say "snakemake ($name) failed with rc=$rc"
    return "$rc"
  fi
}

say "starting the local SLURM cluster"
bounded 900 bash .ci/local_slurm.sh start
rm -rf "$OUT"
mkdir -p "$OUT"

# ---------------------------------------------------------------- the real-cluster profile
# `snakemake --profile slurm` from the repository root (the ./slurm link): parsed, training
# jobs get the GPU request. Dry run only: it asks for 4 CPUs per GPU, more than this node has.
say "snakemake --profile slurm -n (profiles/slurm through ./slurm)"
bounded 120 snakemake all_tables --profile slurm -n --configfile "$CFG" >"$OUT/dryrun_profile_slurm.log" 2>&1 || {
  tail -n 30 "$OUT/dryrun_profile_slurm.log"
  exit 1
}
grep -q "Using profile slurm for" "$OUT/dryrun_profile_slurm.log" &&
  grep -q "gpu=1, cpus_per_gpu=4" "$OUT/dryrun_profile_slurm.log" || {
  say "profiles/slurm was not applied by --profile slurm"
  exit 1
}

# ---------------------------------------------------------------- 2. grid
smk grid 400 all_tables --configfile "$CFG"
python .ci/slurm_check.py grid --results "$OUT" --snakemake-log "$OUT/snakemake_grid.log"

# ---------------------------------------------------------------- 3. preemption
# The run must outlive SLURM's 1-minute limit (enforced 60-90 s after the start) but not by much:
# ~150 s of training at the speed of a short calibration run on this host (same settings as
# .test/config/slurm.yaml, outside SLURM). Evaluation only at the first and last step; 50 checkpoints.
CAL=$OUT/calibration
say "calibration run (2000 steps, local)"
bounded 180 drol train --task "$TASK" --method drol --K 16 --seed 0 --steps 2000 \
  --eval-every 2000 --eval-episodes 1 --data-dir "$OUT/data" --device cpu --threads 1 \
  --set hidden=32 --set batch_size=32 --set log_every=100 --set checkpoint_every=2000 \
  --out "$CAL" >"$OUT/calibration.log" 2>&1 || {
  tail -n 20 "$OUT/calibration.log"
  exit 1
}
read -r STEPS EVERY < <(python .ci/slurm_check.py plan --calibration "$CAL" --seconds 150)
[ -n "${STEPS:-}" ] || { say "could not plan the preemption run"; exit 1; }
PRE=$OUT/preempt
RUN=$PRE/runs/$TASK/drol/K16/seed0
# (--config would pass nested values as strings: a second config file overrides instead)
cat >"$OUT/preempt.yaml" <<YAML
results_dir: $PRE
ogbench: {steps: $STEPS}
train: {eval_every: $STEPS, set: {checkpoint_every: $EVERY, log_every: $EVERY}}
YAML
say "preemption run: $STEPS steps, checkpoint every $EVERY -> $RUN"
smk preempt 600 "$RUN/score.json" --configfile "$CFG" "$OUT/preempt.yaml" --retries 1 \
  --set-resources 'train:runtime=1 if attempt == 1 else 10'
python .ci/slurm_check.py preempt --run "$RUN" --steps "$STEPS" \
  --snakemake-log "$OUT/snakemake_preempt.log"

say "PASSED"
