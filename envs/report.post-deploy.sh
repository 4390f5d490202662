#!/usr/bin/env bash
# Snakemake runs this inside the freshly created conda env, from the workflow's working
# directory (the repository root): install the `drol` package itself, without touching the pins.
set -euo pipefail
pip install --no-deps -e "${DROL_REPO:-$PWD}"
