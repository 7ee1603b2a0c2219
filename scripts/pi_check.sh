#!/usr/bin/env bash
# Raspberry Pi check: runs `python -m mnist_edge predict` inside a Raspberry Pi
# OS bookworm userland (Debian 12 arm64, Python 3.11) under qemu-aarch64-static,
# emulating the Pi 4's Cortex-A72 and the Pi 5's Cortex-A76, on a few hundred
# images (MNIST test PNGs and photo-like JPEGs), and asserts that every label
# is identical to the x86 run of the same command.
#
# What it does: fetches Debian's arm64 python3.11 (+ pip, libstdc++) .debs with
# apt-get (no root filesystem is installed, the .debs are unpacked into a
# folder), builds this project's pure-Python wheel on x86, pip-installs it with
# its [runtime] extra under emulation, then predicts. Downloads, the unpacked
# userland and the installed dependencies are cached in
# ${MNIST_EDGE_PI_CACHE:-~/.cache/mnist-edge/pi}, so a second run is quick.
#
# Usage: MNIST_EDGE_DATA=../shared/data/mnist ./scripts/pi_check.sh
# Env: X86_PYTHON (a python with mnist-edge[runtime]; default .venv-runtime or
#      .venv), PI_CHECK_MNIST (MNIST PNGs, default 250), PI_CHECK_PHOTOS (50),
#      PI_CHECK_CPUS (default "cortex-a72 cortex-a76").
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CACHE="${MNIST_EDGE_PI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mnist-edge/pi}"
CPUS="${PI_CHECK_CPUS:-cortex-a72 cortex-a76}"
N_MNIST="${PI_CHECK_MNIST:-250}"
N_PHOTOS="${PI_CHECK_PHOTOS:-50}"
: "${MNIST_EDGE_DATA:?set MNIST_EDGE_DATA to the MNIST folder}"
if [ -z "${X86_PYTHON:-}" ]; then
  for candidate in .venv-runtime/bin/python .venv/bin/python; do
    [ -x "$candidate" ] && X86_PYTHON="$ROOT/$candidate" && break
  done
fi
: "${X86_PYTHON:?no x86 python with mnist-edge[runtime]; set X86_PYTHON}"
log() { echo "pi_check: $*" >&2; }
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

if ! command -v qemu-aarch64-static >/dev/null; then
  log "installing qemu-user-static"
  $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q qemu-user-static >/dev/null
fi

# 1. The arm64 userland: Debian bookworm's python3.11, pip and C++ runtime.
mkdir -p "$CACHE"/{lists/partial,apt/archives/partial,etc}
touch "$CACHE/status"
cat > "$CACHE/etc/sources.list" <<LIST
deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-updates main
deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main
LIST
APT=(apt-get -q -oAPT::Architecture=arm64 -oAPT::Architectures=arm64
     -oDir::State::Lists="$CACHE/lists" -oDir::State::status="$CACHE/status"
     -oDir::Etc::SourceList="$CACHE/etc/sources.list" -oDir::Etc::SourceParts=/nonexistent
     -oDir::Cache="$CACHE/apt" -oDebug::NoLocking=1 -oAPT::Sandbox::User=root)
PKGS="python3.11 python3-pip libstdc++6"
USERLAND="$CACHE/root"
if [ ! -f "$USERLAND/.complete" ]; then
  log "downloading Debian 12 arm64 packages: $PKGS (+ dependencies)"
  "${APT[@]}" update >/dev/null
  "${APT[@]}" install -y --download-only --no-install-recommends $PKGS >/dev/null
  rm -rf "$USERLAND" && mkdir -p "$USERLAND"
  for deb in "$CACHE"/apt/archives/*.deb; do dpkg -x "$deb" "$USERLAND"; done
  touch "$USERLAND/.complete"
fi
PY_ARM=(qemu-aarch64-static -L "$USERLAND" "$USERLAND/usr/bin/python3.11")

# 2. The project's wheel, built on x86 (emulated pip cannot spawn arm64 builds).
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$X86_PYTHON" -m pip wheel -q --no-deps --no-build-isolation -w "$work/dist" . >/dev/null 2>&1 \
  || python3 -m pip wheel -q --no-deps -w "$work/dist" . >/dev/null 2>&1
WHEEL="$(ls "$work"/dist/mnist_edge-*.whl)"

# 3. Its [runtime] dependencies under emulation (cached by the hash of the
#    runtime extra's lines in setup.py), then the project itself without
#    dependencies into a fresh folder.
key="$(sed -n '/"runtime": \[/,/\],/p' setup.py | cksum | cut -d' ' -f1)"
DEPS="$CACHE/site-deps-$key"
if [ ! -f "$DEPS/.complete" ]; then
  log "pip-installing mnist-edge[runtime] dependencies under qemu (takes a minute)"
  rm -rf "$DEPS"
  QEMU_CPU=cortex-a72 "${PY_ARM[@]}" -m pip install -q --disable-pip-version-check \
    --no-warn-script-location --only-binary=:all: --target "$DEPS" "$WHEEL[runtime]" 2>&1 \
    | grep -v -e "Running pip as the 'root' user" -e "is ignored: it is neither" >&2 || true
  rm -rf "$DEPS"/mnist_edge "$DEPS"/mnist_edge-*.dist-info
  touch "$DEPS/.complete"
fi
QEMU_CPU=cortex-a72 "${PY_ARM[@]}" -m pip install -q --disable-pip-version-check --no-deps \
  --target "$work/site" "$WHEEL" 2>&1 | grep -v -e "Running pip as the 'root' user" >&2 || true
ARM_PATH="$work/site:$DEPS"
QEMU_CPU=cortex-a72 PYTHONPATH="$ARM_PATH" "${PY_ARM[@]}" -c \
  "import platform, numpy, ai_edge_litert, mnist_edge; print('arm64 userland:', platform.machine(), platform.python_version(), 'numpy', numpy.__version__)" >&2

# 4. Images: MNIST test digits as PNGs and photo-like JPEGs of other test digits.
"$X86_PYTHON" - "$work/images" "$N_MNIST" "$N_PHOTOS" <<'PY'
import sys
from pathlib import Path
import numpy as np
from PIL import Image
from mnist_edge import data, synth
out, n_mnist, n_photos = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
out.mkdir(parents=True)
d = data.load()
for i in range(n_mnist):
    Image.fromarray(d.x_test[i]).save(out / f"mnist_{i:05d}.png")
rng = np.random.default_rng(7)
for i in range(n_mnist, n_mnist + n_photos):
    (out / f"photo_{i:05d}.jpg").write_bytes(synth.render_photo(d.x_test[i], rng))
PY

# 5. x86 reference, then each emulated Pi CPU; labels must be identical.
# Run from the temp folder so `python -m mnist_edge` imports the installed
# wheel, not this checkout.
cd "$work"
"$X86_PYTHON" -m mnist_edge predict --json -q "$work/images" > "$work/x86.json"
status=0
for cpu in $CPUS; do
  start=$(date +%s)
  QEMU_CPU="$cpu" PYTHONPATH="$ARM_PATH" "${PY_ARM[@]}" -m mnist_edge predict --json \
    "$work/images" > "$work/$cpu.json" 2> "$work/$cpu.err" || true
  "$X86_PYTHON" - "$work/x86.json" "$work/$cpu.json" "$cpu" "$(( $(date +%s) - start ))" \
      "$work/$cpu.err" <<'PY' || status=1
import json, sys
x86_path, arm_path, cpu, seconds, err = sys.argv[1:]
try:
    x86, arm = json.load(open(x86_path)), json.load(open(arm_path))
except ValueError:
    print(f"pi_check: {cpu}: no JSON from the emulated run:\n" + open(err).read()[-2000:])
    sys.exit(1)
same = sum(a.get("label") == b.get("label") and a["path"] == b["path"] for a, b in zip(x86, arm))
exact = sum(a.get("probabilities") == b.get("probabilities") for a, b in zip(x86, arm))
errors = sum("error" in a for a in arm)
runtime_line = open(err).read().strip().splitlines()[:1]
print(f"pi_check: {cpu}: {same}/{len(x86)} labels identical to x86 "
      f"({exact} with identical probabilities, {errors} errors), {seconds} s; {runtime_line[0] if runtime_line else ''}")
sys.exit(0 if same == len(x86) == len(arm) and len(x86) > 0 else 1)
PY
done
[ "$status" -eq 0 ] && log "PASS" || log "FAIL"
exit "$status"
