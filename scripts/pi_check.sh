#!/usr/bin/env bash
# Raspberry Pi check: the project's wheel with its [runtime,serve,watch] extras, installed by
# pip inside Raspberry Pi OS userlands (Debian 12 "bookworm" arm64 with Python 3.11,
# and Debian 13 "trixie" arm64 with Python 3.13) under qemu-aarch64-static, emulating
# the Pi 4's Cortex-A72 and the Pi 5's Cortex-A76. On each release and CPU it
#   1. predicts a few hundred images (MNIST test PNGs and photo-like JPEGs): every
#      label must equal the x86 run's;
#   2. runs `bench --json` and `eval --json` on the packaged model (on the first 500
#      and 2,000 test images: emulation is slow) against the MNIST
#      test set: they must finish, with accuracy and agreement equal to x86's;
#   3. starts `serve` and must get the right answer from /v2/models/mnist/infer and
#      /predict, then stops it with SIGTERM (exit 0);
#   4. runs `watch --number` on a video of digits (PyAV decoding on arm64): the
#      readings it publishes must be x86's.
# Emulated timings are printed for completeness; they are NOT Raspberry Pi timings.
#
# What it does: fetches each release's arm64 python + pip + libstdc++ .debs with
# apt-get (no root filesystem is installed; the .debs are unpacked into a folder;
# trixie is merged-/usr, so lib, bin and sbin are linked to usr/...), builds this
# project's pure-Python wheel on x86, pip-installs it with its extras under
# emulation, then runs the checks. Downloads, userlands and installed dependencies
# are cached in ${MNIST_EDGE_PI_CACHE:-~/.cache/mnist-edge/pi}.
#
# Usage: MNIST_EDGE_DATA=../shared/data/mnist ./scripts/pi_check.sh
# Env: X86_PYTHON (a python with mnist-edge[runtime,serve,watch]; default .venv-runtime or
#      .venv), PI_CHECK_MNIST (MNIST PNGs, default 250), PI_CHECK_PHOTOS (50),
#      PI_CHECK_CPUS ("cortex-a72 cortex-a76", checked in parallel), PI_CHECK_RELEASES
#      ("bookworm trixie"), PI_CHECK_BENCH_IMAGES (500), PI_CHECK_EVAL_IMAGES (2000),
#      PI_CHECK_WHEEL (the project's wheel, built already; default: built here).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CACHE="${MNIST_EDGE_PI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mnist-edge/pi}"
CPUS="${PI_CHECK_CPUS:-cortex-a72 cortex-a76}"
RELEASES="${PI_CHECK_RELEASES:-bookworm trixie}"
N_MNIST="${PI_CHECK_MNIST:-250}"
N_PHOTOS="${PI_CHECK_PHOTOS:-50}"
# Emulated, the CNN is ~400x slower than native: bench and eval use the first test images.
N_BENCH="${PI_CHECK_BENCH_IMAGES:-500}"
N_EVAL="${PI_CHECK_EVAL_IMAGES:-2000}"
: "${MNIST_EDGE_DATA:?set MNIST_EDGE_DATA to the MNIST folder}"
MNIST_EDGE_DATA="$(cd "$MNIST_EDGE_DATA" && pwd)"; export MNIST_EDGE_DATA
if [ -z "${X86_PYTHON:-}" ]; then
  for candidate in .venv-runtime/bin/python .venv/bin/python; do
    [ -x "$candidate" ] && X86_PYTHON="$ROOT/$candidate" && break
  done
fi
: "${X86_PYTHON:?no x86 python with mnist-edge[runtime,serve,watch]; set X86_PYTHON}"
log() { echo "pi_check: $*" >&2; }
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
if ! command -v qemu-aarch64-static >/dev/null; then
  log "installing qemu-user-static"
  $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q qemu-user-static >/dev/null
fi

python_of() { case "$1" in bookworm) echo python3.11 ;; trixie) echo python3.13 ;; *) return 1 ;; esac; }

# 1. A release's arm64 userland: its python, pip and C++ runtime.
userland() {  # userland RELEASE -> prints the folder
  local release="$1" dir="$CACHE/$1" py; py="$(python_of "$release")"
  local root="$dir/root"
  if [ ! -f "$root/.complete" ]; then
    mkdir -p "$dir"/{lists/partial,apt/archives/partial,etc}
    touch "$dir/status"
    local security="$release-security"
    cat > "$dir/etc/sources.list" <<LIST
deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $release main
deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $release-updates main
deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security $security main
LIST
    local apt=(apt-get -q -oAPT::Architecture=arm64 -oAPT::Architectures=arm64
               -oDir::State::Lists="$dir/lists" -oDir::State::status="$dir/status"
               -oDir::Etc::SourceList="$dir/etc/sources.list" -oDir::Etc::SourceParts=/nonexistent
               -oDir::Cache="$dir/apt" -oDebug::NoLocking=1 -oAPT::Sandbox::User=root)
    log "$release: downloading Debian arm64 packages: $py python3-pip libstdc++6 (+ dependencies)"
    "${apt[@]}" update >/dev/null
    "${apt[@]}" install -y --download-only --no-install-recommends "$py" python3-pip libstdc++6 >/dev/null
    rm -rf "$root" && mkdir -p "$root"
    for deb in "$dir"/apt/archives/*.deb; do dpkg -x "$deb" "$root"; done
    # merged-/usr releases ship /lib, /bin, /sbin only as links made at install time
    for d in lib bin sbin; do
      if [ ! -e "$root/$d" ] && [ -d "$root/usr/$d" ]; then ln -s "usr/$d" "$root/$d"; fi
    done
    touch "$root/.complete"
  fi
  echo "$root"
}

# 2. The project's wheel, built on x86 (emulated pip cannot spawn arm64 builds).
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# PI_CHECK_WHEEL: one built already (CI runs two checks side by side: one build, no race in the tree).
if [ -n "${PI_CHECK_WHEEL:-}" ]; then
  mkdir -p "$work/dist" && cp "$PI_CHECK_WHEEL" "$work/dist/"
else
  "$X86_PYTHON" -m pip wheel -q --no-deps --no-build-isolation -w "$work/dist" . >/dev/null 2>&1 \
    || python3 -m pip wheel -q --no-deps -w "$work/dist" . >/dev/null 2>&1
fi
WHEEL="$(ls "$work"/dist/mnist_edge-*.whl)"

# 3. Images, and the x86 reference answers.
"$X86_PYTHON" - "$work/images" "$N_MNIST" "$N_PHOTOS" <<'PY'
import sys
from pathlib import Path
import numpy as np
from PIL import Image
from mnist_edge import data
from mnist_edge.synthesis import synth
out, n_mnist, n_photos = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
out.mkdir(parents=True)
d = data.load()
for i in range(n_mnist):
    Image.fromarray(d.x_test[i]).save(out / f"mnist_{i:05d}.png")
rng = np.random.default_rng(7)
for i in range(n_mnist, n_mnist + n_photos):
    (out / f"photo_{i:05d}.jpg").write_bytes(synth.render_photo(d.x_test[i], rng))
# A camera for watch: a 3, an empty sheet, a 7, then 42, each held 3 s (5 frames/s).
from mnist_edge.synthesis import video
pick = lambda k: d.x_test[np.flatnonzero(d.y_test == k)[1]]
video.write(out.parent / "watch.mp4", [([pick(3)], 3), (None, 3), ([pick(7)], 3), ([pick(4), pick(2)], 3)], fps=5)
PY
# Run from the temp folder so `python -m mnist_edge` imports the installed wheel.
cd "$work"
"$X86_PYTHON" -m mnist_edge predict --json -q "$work/images" > "$work/x86-predict.json"
"$X86_PYTHON" -m mnist_edge watch "$work/watch.mp4" --number --stable 2 -q > "$work/x86-watch.jsonl"
"$X86_PYTHON" -m mnist_edge bench --json -q --runs 30 --warmup 5 --test-images "$N_BENCH" > "$work/x86-bench.json"
"$X86_PYTHON" -m mnist_edge eval --json --test-images "$N_EVAL" --model "$("$X86_PYTHON" -c \
  'from mnist_edge.runtime import default_model_path; print(default_model_path())')" > "$work/x86-eval.json"

compare() {  # compare LABEL ARM_DIR SECONDS
  "$X86_PYTHON" - "$work" "$2" "$1" "$3" <<'PY'
import json, sys
from pathlib import Path
work, arm, label, seconds = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
def load(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
problems = []
x86, got = load(work / "x86-predict.json"), load(arm / "predict.json")
same = exact = 0
if got is None:
    problems.append("predict gave no JSON")
else:
    same = sum(a.get("label") == b.get("label") and Path(a["path"]).name == Path(b["path"]).name
               for a, b in zip(x86, got))
    exact = sum(a.get("probabilities") == b.get("probabilities") for a, b in zip(x86, got))
    if not (same == len(x86) == len(got)):
        problems.append(f"predict: {same}/{len(x86)} labels equal")
xb, ab = load(work / "x86-bench.json"), load(arm / "bench.json")
if ab is None or "error" in ab["models"][0]:
    problems.append("bench failed")
else:
    for key in ("accuracy", "agreement", "max_abs_diff"):
        if xb["models"][0][key] != ab["models"][0][key]:
            problems.append(f"bench {key} {ab['models'][0][key]} != x86 {xb['models'][0][key]}")
xe, ae = load(work / "x86-eval.json"), load(arm / "eval.json")
if ae is None:
    problems.append("eval failed")
elif (xe["test_accuracy"], xe["confusion_matrix"]) != (ae["test_accuracy"], ae["confusion_matrix"]):
    problems.append(f"eval accuracy {ae['test_accuracy']} != x86 {xe['test_accuracy']}")
def readings(path):
    try:
        return [json.loads(line)["reading"] for line in path.read_text().splitlines() if line.strip()]
    except (OSError, ValueError, KeyError):
        return None
xw, aw = readings(work / "x86-watch.jsonl"), readings(arm / "watch.jsonl")
if not aw or aw != xw:
    problems.append(f"watch published {aw}, x86 {xw}")
serve = load(arm / "serve.json") or {}
if serve.get("infer") != serve.get("expected") or serve.get("predict") != serve.get("expected") \
        or serve.get("exit") != 0:
    problems.append(f"serve answered {serve}")
b = ab["models"][0] if ab else {}
print(f"pi_check: {label}: predict {same}/{len(x86)} labels identical to x86 ({exact} identical "
      f"probabilities); bench accuracy {b.get('accuracy')} agreement {b.get('agreement')} "
      f"(x86 {xb['models'][0]['accuracy']} / {xb['models'][0]['agreement']}), emulated p50 "
      f"{(b.get('latency_us') or {}).get('p50')} us (NOT a Pi timing); eval accuracy "
      f"{ae and ae['test_accuracy']}; serve infer {serve.get('infer')} predict {serve.get('predict')} "
      f"(expected {serve.get('expected')}), SIGTERM exit {serve.get('exit')}; watch published "
      f"{aw} (x86 {xw}); {seconds} s"
      + ("" if not problems else "\n  FAIL: " + "; ".join(problems)))
sys.exit(1 if problems else 0)
PY
}

serve_check() {  # serve_check OUT_JSON PY... (runs serve under emulation, asks it, stops it)
  local out="$1"; shift
  local port; port="$("$X86_PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  "$@" -m mnist_edge serve -q --port "$port" > "$(dirname "$out")/serve.log" 2>&1 &
  local pid=$!
  "$X86_PYTHON" - "$port" "$out" "$pid" "$work/images" <<'PY'
import io, json, os, signal, sys, time, urllib.request
import numpy as np
from PIL import Image
port, out, pid, images = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
url = f"http://127.0.0.1:{port}"
result = {"expected": None}
for _ in range(600):  # emulated start-up is slow
    try:
        urllib.request.urlopen(url + "/v2/health/ready", timeout=2)
        break
    except OSError:
        time.sleep(0.5)
png = open(f"{images}/mnist_00000.png", "rb").read()
pixels = np.asarray(Image.open(io.BytesIO(png))).ravel().tolist()
from mnist_edge import data
result["expected"] = int(data.load().y_test[0])
try:
    body = json.dumps({"inputs": [{"name": "image", "shape": [1, 28, 28], "datatype": "UINT8", "data": pixels}]})
    answer = json.loads(urllib.request.urlopen(urllib.request.Request(
        url + "/v2/models/mnist/infer", data=body.encode(), headers={"Content-Type": "application/json"}),
        timeout=120).read())
    result["infer"] = next(o for o in answer["outputs"] if o["name"] == "label")["data"][0]
    answer = json.loads(urllib.request.urlopen(urllib.request.Request(
        url + "/predict", data=png, headers={"Content-Type": "image/png"}), timeout=120).read())
    result["predict"] = int(answer["label"]) if answer.get("label") is not None else None
except Exception as exc:  # reported as a failed check, not a crash of the script
    result["error"] = f"{type(exc).__name__}: {exc}"
os.kill(pid, signal.SIGTERM)
json.dump(result, open(out, "w"))
PY
  local code=0; wait "$pid" || code=$?
  "$X86_PYTHON" -c "import json,sys; d=json.load(open(sys.argv[1])); d['exit']=int(sys.argv[2]); json.dump(d, open(sys.argv[1],'w'))" "$out" "$code"
}

status=0
for release in $RELEASES; do
  root="$(userland "$release")"
  py="$(python_of "$release")"
  PY_ARM=(qemu-aarch64-static -L "$root" "$root/usr/bin/$py")
  # 4. The extras' dependencies under emulation (cached by the extras' lines in setup.py).
  key="$(sed -n '/"runtime": \[/,/"dev":/p' "$ROOT/setup.py" | cksum | cut -d' ' -f1)"
  DEPS="$CACHE/$release/site-deps-$key"
  if [ ! -f "$DEPS/.complete" ]; then
    log "$release: pip-installing mnist-edge[runtime,serve,watch] dependencies under qemu (minutes)"
    rm -rf "$DEPS"
    QEMU_CPU=cortex-a72 "${PY_ARM[@]}" -m pip install -q --disable-pip-version-check \
      --no-warn-script-location --only-binary=:all: --target "$DEPS" "$WHEEL[runtime,serve,watch]" 2>&1 \
      | grep -v -e "Running pip as the 'root' user" -e "is ignored: it is neither" >&2 || true
    rm -rf "$DEPS"/mnist_edge "$DEPS"/mnist_edge-*.dist-info
    touch "$DEPS/.complete"
  fi
  site="$work/site-$release"
  QEMU_CPU=cortex-a72 "${PY_ARM[@]}" -m pip install -q --disable-pip-version-check --no-deps \
    --target "$site" "$WHEEL" 2>&1 | grep -v -e "Running pip as the 'root' user" >&2 || true
  # Without binfmt_misc an arm64 python cannot start child pythons (the load probe,
  # bench's cold-start probe) by itself: this wrapper, named in MNIST_EDGE_PYTHON, does.
  wrapper="$work/python-$release"
  printf '#!/bin/sh\nexec qemu-aarch64-static -L "%s" "%s" "$@"\n' "$root" "$root/usr/bin/$py" > "$wrapper"
  chmod +x "$wrapper"
  # The arm64 site only for emulated commands: the x86 python beside them must not see it.
  PY_RUN=(env "PYTHONPATH=$site:$DEPS" "MNIST_EDGE_PYTHON=$wrapper" "${PY_ARM[@]}")
  QEMU_CPU=cortex-a72 "${PY_RUN[@]}" -c "import platform, numpy, ai_edge_litert, starlette, av, paho.mqtt, mnist_edge; print('$release arm64 userland:', platform.machine(), 'Python', platform.python_version(), 'numpy', numpy.__version__)" >&2
  # The two Pi cores are checked side by side (this machine has two cores too).
  for cpu in $CPUS; do
    arm="$work/$release-$cpu"; mkdir -p "$arm"
    (
      start=$(date +%s)
      export QEMU_CPU="$cpu"
      "${PY_RUN[@]}" -m mnist_edge predict --json -q "$work/images" > "$arm/predict.json" 2> "$arm/predict.err" || true
      "${PY_RUN[@]}" -m mnist_edge bench --json -q --runs 30 --warmup 5 --test-images "$N_BENCH" > "$arm/bench.json" 2> "$arm/bench.err" || true
      "${PY_RUN[@]}" -m mnist_edge eval --json --test-images "$N_EVAL" > "$arm/eval.json" 2> "$arm/eval.err" || true
      "${PY_RUN[@]}" -m mnist_edge watch "$work/watch.mp4" --number --stable 2 -q > "$arm/watch.jsonl" 2> "$arm/watch.err" || true
      serve_check "$arm/serve.json" "${PY_RUN[@]}"
      echo $(( $(date +%s) - start )) > "$arm/seconds"
    ) &
  done
  wait
  for cpu in $CPUS; do
    arm="$work/$release-$cpu"
    compare "$release $cpu" "$arm" "$(cat "$arm/seconds" 2>/dev/null || echo '?')" \
      || { status=1; tail -n 3 "$arm"/*.err >&2 || true; }
  done
done
[ "$status" -eq 0 ] && log "PASS (emulated timings above are not Raspberry Pi timings)" || log "FAIL"
exit "$status"
