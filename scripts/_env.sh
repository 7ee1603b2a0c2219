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

# Debian packages the tests use: Fashion-MNIST (the "not a digit" data), Chromium and
# its driver (the page's browser tests), Mosquitto (a real MQTT broker for watch's
# tests). One list, for scripts/test.sh and .ci/run.
TEST_SYSTEM_PACKAGES=(dataset-fashion-mnist chromium chromium-driver mosquitto)

missing_system_packages() {  # prints the packages of TEST_SYSTEM_PACKAGES not installed
  [ -d /usr/share/datasets/fashion-mnist ] || echo dataset-fashion-mnist
  command -v chromium >/dev/null || echo chromium
  command -v chromedriver >/dev/null || echo chromium-driver
  [ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null || echo mosquitto
}

install_system_packages() {  # install_system_packages PKG... (as root, or with sudo)
  [ "$#" -gt 0 ] || return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  if ! command -v apt-get >/dev/null; then
    echo "not a Debian/Ubuntu machine: install $* yourself; the tests that need them will fail" >&2
    return 0
  fi
  echo "installing system packages the tests use: $*" >&2
  if ! { $sudo apt-get update -q && $sudo apt-get install -y -q "$@"; } >/dev/null 2>&1; then
    echo "could not install $* (run: sudo apt-get install $*); the tests that need them will fail" >&2
  fi
}

install_qat_tools() {  # install_qat_tools VENV: tensorflow-model-optimization and the matching tf-keras,
  # without their dependencies (tf-keras depends on `tensorflow`, the full CUDA wheel, which would
  # overwrite tensorflow-cpu; the qat extra brings the others)
  local tf_version
  tf_version="$("$1/bin/python" -c 'import importlib.metadata as m
for d in ("tensorflow-cpu", "tensorflow"):
    try:
        print(m.version(d)); break
    except m.PackageNotFoundError:
        pass')"
  "$1/bin/python" -m pip install -q --no-deps "tf-keras~=${tf_version%.*}.0" "tensorflow-model-optimization>=0.8" >&2
}

# Every extra: what the scripts' .venv holds (one list, so their install stamps agree).
ALL_EXTRAS="train,qat,search,runtime,serve,watch,micro,dev"

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
    case ",$extras," in *,qat,*) install_qat_tools .venv ;; esac
    touch "$stamp"
  fi
}

if [ -z "${MNIST_EDGE_DATA:-}" ] && [ -f "$ROOT/../shared/data/mnist/train-images-idx3-ubyte.gz" ]; then
  export MNIST_EDGE_DATA="$(cd "$ROOT/../shared/data/mnist" && pwd)"
fi
