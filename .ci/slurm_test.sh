#!/usr/bin/env bash
# SLURM test, run by .ci/run (needs root and apt access on Debian 12; 5-7 min).
#
# 1. Starts the localhost SLURM cluster (.ci/local_slurm.sh; installs slurm-wlm + munge if missing).
# 2. Grid: .test/config/slurm.yaml (3 training jobs submitted as one SLURM job array, data
#    generation, then manifest/aggregate/tables as local rules) through the SLURM executor with
#    profiles/slurm-ci. Checks that every training run was a COMPLETED SLURM job whose log names
#    its output, and that the tables hold the runs' scores.
# 3. Preemption and resume of a seed-batched array job: two train_seeds0 jobs (2 seeds each,
#    ~120 s of training at the speed of a calibration run) submitted as one SLURM job array
#    under a 1-minute runtime cap (train.runtime.cap_min). SLURM kills each attempt (TIMEOUT),
#    Snakemake resubmits it (the retries the workflow's policy gives an over-cap rule), and a
#    later attempt logs "resuming from step N" with N > 0 and finishes. Checked from Snakemake's
#    log, SLURM's job records and the group's log.
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
# `snakemake --profile slurm` from the repository root (the ./slurm link): parsed, and the
# training jobs ask for the config's resources (1 CPU, no GPU, 10 min: train.runtime_min x 1
# seed, under the profile's 24 h cap). Dry run only (the full policy: tests/test_workflow.py).
say "snakemake --profile slurm -n (profiles/slurm through ./slurm)"
bounded 120 snakemake all_tables --profile slurm -n --cores 64 --configfile "$CFG" >"$OUT/dryrun_profile_slurm.log" 2>&1 || {
  tail -n 30 "$OUT/dryrun_profile_slurm.log"
  exit 1
}
grep -q "Using profile slurm for" "$OUT/dryrun_profile_slurm.log" &&
  grep -q "mem_mb=1500, .*runtime=10, cpus_per_task=1$" "$OUT/dryrun_profile_slurm.log" || {
  say "profiles/slurm was not applied by --profile slurm"
  exit 1
}

# ---------------------------------------------------------------- 2. grid
smk grid 400 all_tables --configfile "$CFG"
python .ci/slurm_check.py grid --results "$OUT" --snakemake-log "$OUT/snakemake_grid.log"

# ---------------------------------------------------------------- 3. preemption
# Two seed-batched jobs (rule train_seeds0: DROL(16) and FQL, seeds 0 and 1 each, one
# `drol train --seeds 0,1` per job), submitted as one SLURM job array, each longer than the
# runtime cap. The workflow's own policy (drol.report.jobs) asks for the cap, 1 minute, and
# gives the rule retries for the further attempts (no --retries here): SLURM kills each
# attempt at its limit (TIMEOUT), Snakemake resubmits it, and the next attempt resumes from the
# checkpoint until the runs finish. The runs must outlive SLURM's 1-minute limit (enforced
# 60-90 s after the start) but not by much: ~120 s of training at the speed of a short
# calibration run of the same seed-batched step on this host (same settings, outside SLURM).
CAL=$OUT/calibration
say "calibration run (2000 steps, seeds 0,1 batched, local)"
bounded 180 drol train --task "$TASK" --method drol --K 16 --seeds 0,1 --steps 2000 \
  --eval-every 2000 --eval-episodes 1 --data-dir "$OUT/data" --device cpu --threads 1 \
  --set hidden=32 --set batch_size=32 --set log_every=100 --set checkpoint_every=2000 \
  --set compile=off --out "$CAL/seed{seed}" >"$OUT/calibration.log" 2>&1 || {
  tail -n 20 "$OUT/calibration.log"
  exit 1
}
read -r STEPS EVERY < <(python .ci/slurm_check.py plan --calibration "$CAL/seed0" --seconds 120)
[ -n "${STEPS:-}" ] || { say "could not plan the preemption run"; exit 1; }
PRE=$OUT/preempt
CELL=$PRE/runs/$TASK
# (--config would pass nested values as strings: a second config file overrides instead)
# runtime_min 3 x 2 seeds = 6 min estimated (unmeasured) over a 1-minute cap: 6 attempts
cat >"$OUT/preempt.yaml" <<YAML
results_dir: $PRE
seeds: [0, 1]
ogbench: {steps: $STEPS}
methods: {drol_static: false}
train:
  eval_every: $STEPS
  seeds_per_job: 2
  runtime_min: {ogbench: 3, d4rl: 3}
  runtime: {cap_min: 1}
  set: {checkpoint_every: $EVERY, log_every: $EVERY, compile: "off"}
YAML
say "preemption run: 2 seed-batched jobs of $STEPS steps, checkpoint every $EVERY -> $CELL"
smk preempt 700 "$CELL/drol/K16/seed0/score.json" "$CELL/drol/K16/seed1/score.json" \
  "$CELL/fql/K1/seed0/score.json" "$CELL/fql/K1/seed1/score.json" \
  --configfile "$CFG" "$OUT/preempt.yaml"
for run in "$CELL/drol/K16/seed0" "$CELL/fql/K1/seed1"; do
  python .ci/slurm_check.py preempt --run "$run" --steps "$STEPS" --array \
    --snakemake-log "$OUT/snakemake_preempt.log"
done

say "PASSED"
