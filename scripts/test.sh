#!/usr/bin/env bash
# Runs the whole test suite: sets up .venv with the train, runtime and dev
# extras (first run only), then pytest, slow end-to-end tests included.
# Usage: ./scripts/test.sh [pytest args...]
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
setup_venv "train,runtime,serve,micro,dev"
exec .venv/bin/python -m pytest "$@"
