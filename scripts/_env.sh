# Shared set-up for scripts/demo.sh and scripts/test.sh (sourced, not run).
# Creates .venv in the checkout with the project and the given extras, and
# points MNIST_EDGE_DATA at ../shared/data/mnist when it is there and unset.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"

need_venv() {
  if ! "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 10)' 2>/dev/null; then
    echo "mnist-edge needs Python 3.10+ ($PYTHON is $("$PYTHON" --version 2>&1))" >&2; exit 1
  fi
  if ! "$PYTHON" -m venv --help >/dev/null 2>&1 || ! "$PYTHON" -c 'import ensurepip' 2>/dev/null; then
    # Debian/Ubuntu split venv out of the interpreter package.
    local pkg="python3-venv" sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing $pkg (needed for a virtual environment)" >&2
    $sudo apt-get update -q && $sudo apt-get install -y -q "$pkg"
  fi
}

setup_venv() {  # setup_venv EXTRAS
  local extras="$1" stamp
  need_venv
  if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
  fi
  stamp=".venv/.mnist-edge-$extras-$(cat setup.py | cksum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ]; then
    .venv/bin/python -m pip install -q --upgrade pip >&2
    .venv/bin/python -m pip install -q -e ".[$extras]" >&2
    touch "$stamp"
  fi
}

if [ -z "${MNIST_EDGE_DATA:-}" ] && [ -f "$ROOT/../shared/data/mnist/train-images-idx3-ubyte.gz" ]; then
  export MNIST_EDGE_DATA="$(cd "$ROOT/../shared/data/mnist" && pwd)"
fi
