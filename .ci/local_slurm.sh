#!/usr/bin/env bash
# A single-node SLURM cluster on localhost for CI (Debian 12, root, no systemd).
#
#   bash .ci/local_slurm.sh start    install slurm-wlm + munge if missing, write the config, start
#                                    munged, slurmctld and slurmd, wait for the node to be idle
#   bash .ci/local_slurm.sh stop     stop the daemons this script started, by PID
#   bash .ci/local_slurm.sh status   sinfo + squeue
#
# State (pid files, logs, spool, saved state) lives in $SLURM_DIR (default /tmp/drol-slurm).
# The config must be at the compiled-in default /etc/slurm/slurm.conf: the slurm-jobstep
# executor plugin strips SLURM_* variables (SLURM_CONF too) before its nested `srun`.
# No slurmdbd: `sacct` cannot work, so the Snakemake profile must use `slurm-status-command:
# squeue`, which needs MinJobAge well above the plugin's init wait (set below).
set -euo pipefail

SLURM_DIR=${SLURM_DIR:-/tmp/drol-slurm}
SLURM_CONF=/etc/slurm/slurm.conf
NODE=localnode
NCPU=$(nproc)
MEM_MB=$(($(awk '/MemTotal/{print $2}' /proc/meminfo) / 1024 * 3 / 4))

install_pkgs() {
  if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null ||
    ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    echo "installing slurm-wlm and munge from Debian"
    timeout -k 10 300 apt-get update -qq
    DEBIAN_FRONTEND=noninteractive timeout -k 10 600 apt-get install -y -qq --no-install-recommends \
      slurm-wlm munge >/dev/null
  fi
  # the munge postinst creates the key; make sure it exists with owner and mode munged accepts
  if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
  fi
  chown munge:munge /etc/munge /etc/munge/munge.key
  chmod 0700 /etc/munge
  chmod 0400 /etc/munge/munge.key
}

write_conf() {
  mkdir -p "$SLURM_DIR"/{state,spool,log} /etc/slurm
  cat >"$SLURM_CONF" <<CONF
# written by .ci/local_slurm.sh: localhost-only test cluster, no accounting, no cgroups
ClusterName=drolci
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$SLURM_DIR/state
SlurmdSpoolDir=$SLURM_DIR/spool
SlurmctldPidFile=$SLURM_DIR/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/slurmd.pid
SlurmctldLogFile=$SLURM_DIR/log/slurmctld.log
SlurmdLogFile=$SLURM_DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
# keep finished jobs visible to squeue long enough for Snakemake's squeue-based status checks
MinJobAge=600
# kill jobs at their time limit, promptly (the preemption test relies on it)
OverTimeLimit=0
KillWait=5
MpiDefault=none
MailProg=/bin/true
GresTypes=gpu
NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=localhost CPUs=$NCPU RealMemory=$MEM_MB Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF
  # a fake GPU so --gpus=1 / --gres=gpu:1 jobs can be scheduled (no device, no isolation);
  # a count-only GRES is rejected by slurmd 22.05, hence File=/dev/null
  echo "NodeName=$NODE Name=gpu File=/dev/null" >/etc/slurm/gres.conf
}

is_up() { scontrol ping 2>/dev/null | grep -q 'is UP'; }

start() {
  install_pkgs
  if is_up; then
    echo "slurmctld already up"
    return 0
  fi
  # fresh state each start: a drained node or stale jobs from an earlier run would stick
  rm -rf "$SLURM_DIR"
  write_conf
  mkdir -p /run/munge /var/lib/munge /var/log/munge
  chown munge:munge /run/munge /var/lib/munge /var/log/munge
  if ! munge -n >/dev/null 2>&1; then
    setsid runuser -u munge -- /usr/sbin/munged --foreground >"$SLURM_DIR/log/munged.out" 2>&1 &
    echo $! >"$SLURM_DIR/munged.runuser.pid"
    for _ in $(seq 50); do
      munge -n >/dev/null 2>&1 && break
      sleep 0.2
    done
    munge -n >/dev/null 2>&1 || { echo "munged did not start" >&2; cat "$SLURM_DIR/log/munged.out" >&2; return 1; }
  fi
  setsid /usr/sbin/slurmctld -D -f "$SLURM_CONF" >"$SLURM_DIR/log/slurmctld.out" 2>&1 &
  echo $! >"$SLURM_DIR/slurmctld.daemon.pid"
  for _ in $(seq 75); do
    is_up && break
    sleep 0.2
  done
  setsid /usr/sbin/slurmd -D -N "$NODE" -f "$SLURM_CONF" >"$SLURM_DIR/log/slurmd.out" 2>&1 &
  echo $! >"$SLURM_DIR/slurmd.daemon.pid"
  for _ in $(seq 100); do
    if sinfo -h -n "$NODE" -o %t 2>/dev/null | grep -qx idle; then
      echo "slurm up: $(sinfo -h -o '%P %a %t %N cpus=%c gres=%G')"
      return 0
    fi
    sleep 0.3
  done
  echo "slurm did not become idle" >&2
  sinfo -R >&2 || true
  tail -n 20 "$SLURM_DIR"/log/* >&2 || true
  return 1
}

# kill_wait PID: SIGTERM, wait up to 10 s, then SIGKILL
kill_wait() {
  local pid=$1
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  echo "pid $pid ignored SIGTERM, sending SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null || true
}

stop() {
  local f pid c
  # cancel what is still queued or running, so no job step outlives the daemons
  if is_up && [ -n "$(squeue -h -o %i 2>/dev/null)" ]; then
    echo "cancelling jobs: $(squeue -h -o %i | tr '\n' ' ')"
    scancel --full $(squeue -h -o %i) 2>/dev/null || true
    for _ in $(seq 30); do
      [ -z "$(squeue -h -t RUNNING,COMPLETING,PENDING -o %i 2>/dev/null)" ] && break
      sleep 0.5
    done
  fi
  for d in slurmd slurmctld; do
    f="$SLURM_DIR/$d.daemon.pid"
    if [ -f "$f" ]; then
      pid=$(cat "$f")
      echo "stopping $d (pid $pid)"
      kill_wait "$pid"
      rm -f "$f"
    fi
  done
  f="$SLURM_DIR/munged.runuser.pid"
  if [ -f "$f" ]; then
    pid=$(cat "$f")
    # runuser forks munged: stop the child by its parent's PID, then runuser exits on its own
    for c in $(ps -o pid= --ppid "$pid" 2>/dev/null); do
      echo "stopping munged (pid $c)"
      kill_wait "$c"
    done
    kill_wait "$pid"
    rm -f "$f"
  fi
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status)
  sinfo
  squeue --states=all
  ;;
*)
  echo "usage: $0 start|stop|status" >&2
  exit 2
  ;;
esac
