#!/usr/bin/env bash
# Runs the whole test suite: sets up .venv with every extra (first run only),
# installs the Debian packages the tests use when missing (Fashion-MNIST,
# Chromium and chromium-driver: as root or with passwordless sudo; otherwise it
# says which), then pytest, slow end-to-end tests included. pytest lists every
# skip with its reason (-ra); with CI=true an unexpected skip fails the run
# (tests/skipguard.py).
# Usage: ./scripts/test.sh [pytest args...]
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
setup_venv "$ALL_EXTRAS"
mapfile -t missing < <(missing_system_packages)
install_system_packages "${missing[@]}"
exec .venv/bin/python -m pytest "$@"
