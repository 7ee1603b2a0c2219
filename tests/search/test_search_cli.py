"""`mnist-edge search` end to end with real Ray: a quick search on a real Ray cluster on loopback
(`ray start --head`), an impossible budget, SIGTERM and --resume (Ray started by the search), each in
its own process as a user runs it.

Small on purpose: a two-value space, 2,000-3,000 training digits, 2-3 epochs.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers import free_port, require_extra

require_extra("tensorflow", "train")
require_extra("ray", "search")

pytestmark = pytest.mark.slow

SPACE = {
    "stages": [2],
    "convs": [1],
    "width": [4, 8],
    "growth": [2.0],
    "kernel": [3],
    "pool": ["max"],
    "head": ["flatten"],
    "dense": [0],
    "augment": [0.0],
    "epochs": [2],
    "recipe": ["int8"],
}


SEARCH = [sys.executable, "-m", "mnist_edge", "search"]  # as a user runs it, in its own process


def search_args(tmp_path, mnist_dir, *extra, space=SPACE, train_limit=3000):
    (tmp_path / "space.json").write_text(json.dumps(space))
    return [
        *SEARCH,
        "--space",
        str(tmp_path / "space.json"),
        "--train-limit",
        str(train_limit),
        "--validation",
        "500",
        "--data-dir",
        str(mnist_dir),
        "--out",
        str(tmp_path / "out"),
        *extra,
    ]


RAY_START_SECONDS = 180


def run(args, timeout=300):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def record(tmp_path):
    return json.loads((tmp_path / "out" / "search.json").read_text())


@pytest.fixture
def ray_cluster(tmp_path):
    """A real Ray cluster on loopback, started as a user would, torn down by killing its process group."""
    port = free_port()
    ray = os.path.join(os.path.dirname(sys.executable), "ray")
    log = tmp_path / "ray-start.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                ray,
                "start",
                "--head",
                "--block",
                "--port",
                str(port),
                "--node-ip-address",
                "127.0.0.1",
                "--num-cpus",
                "2",
                "--include-dashboard",
                "false",
                "--disable-usage-stats",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    import socket

    # Ray starts a dozen processes: on a machine whose cores are busy (CI runs the
    # Pi check beside the tests) that has taken over a minute.
    deadline = time.monotonic() + RAY_START_SECONDS
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.5)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        said = log.read_text(errors="replace")[-2000:]
        pytest.fail(f"ray start --head did not come up (exit {proc.poll()}, {RAY_START_SECONDS} s):\n{said}")
    yield f"127.0.0.1:{port}"
    os.killpg(proc.pid, signal.SIGKILL)  # never `ray stop`: it would stop every Ray on the machine
    proc.wait(timeout=30)


def digit_images(folder, mnist, n=20):
    """``n`` MNIST test digits as PNG files named ``<k>_<label>.png`` (how eval --images reads labels)."""
    import numpy as np
    from PIL import Image

    folder.mkdir()
    for k in range(n):  # n / 10 of every class
        index = int(np.flatnonzero(mnist.y_test == k % 10)[k // 10])
        Image.fromarray(mnist.x_test[index]).save(folder / f"{index}_{k % 10}.png")
    return folder


def test_a_two_trial_search_on_a_ray_cluster_exports_the_best_feasible_model_with_its_record(
    tmp_path, mnist_dir, mnist, ray_cluster
):
    images = digit_images(tmp_path / "images", mnist)
    args = [
        "--trials",
        "2",
        "--max-kb",
        "64",
        "--seed",
        "3",
        "--images",
        str(images),
        "--ray-address",
        ray_cluster,
    ]
    result = run(search_args(tmp_path, mnist_dir, *args))
    assert result.returncode == 0, result.stderr[-2000:]
    doc = record(tmp_path)
    assert len(doc["trials"]) == 2 and doc["space"]["width"] == [4, 8] and doc["config"]["seed"] == 3
    assert doc["config"]["budget"]["max_kb"] == 64
    assert (
        doc["ray"]["address"] == ray_cluster
        and doc["ray"]["cpus"] == 2
        and f"at {ray_cluster}" in result.stderr
    )
    best = next(t for t in doc["trials"] if t["trial"] == doc["best"])
    assert best["feasible"] and best["size_kb"] <= 64 and best["arena_kb"] > 0 and best["p50_us"] > 0
    assert doc["data"]["images"] == 20 and 0.5 <= best["images_accuracy"] <= 1.0
    model = tmp_path / "out" / "mnist_search_int8.tflite"
    sidecar = json.loads(model.with_suffix(".json").read_text())
    assert sidecar["recipe"]["chosen_by"]["trial"] == doc["best"]
    assert sidecar["parity"]["passed"] and model.stat().st_size <= 64 * 1024
    assert (tmp_path / "out" / "mnist_search_int8.micro.json").exists()
    csv_lines = (tmp_path / "out" / "trials.csv").read_text().splitlines()
    assert len(csv_lines) == 3 and (tmp_path / "out" / "pareto.png").stat().st_size > 10_000
    assert f"* {doc['best']}" in result.stdout


def test_a_budget_nothing_meets_exits_3_with_the_closest_trials_untrained(tmp_path, mnist_dir):
    result = run(search_args(tmp_path, mnist_dir, "--trials", "2", "--max-kb", "1", "--max-arena-kb", "1"))
    assert result.returncode == 3, result.stderr[-2000:]
    assert "the closest trials:" in result.stderr
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("Error: no trial met the budget (<= 1 KB, arena <= 1 KB)")
    )
    doc = record(tmp_path)
    assert doc["best"] is None and {t["status"] for t in doc["trials"]} == {"over budget"}
    assert doc["ray"]["address"] == "local"  # Ray started here, not any cluster the machine runs
    assert all(t["epochs_done"] == 0 for t in doc["trials"])  # stopped before training
    assert not (tmp_path / "out" / "mnist_search_int8.tflite").exists()


def test_sigterm_leaves_a_search_that_resume_finishes(tmp_path, mnist_dir):
    space = dict(SPACE, width=[4, 6, 8], epochs=[3])
    args = search_args(tmp_path, mnist_dir, "--trials", "3", "--workers", "1", space=space, train_limit=2000)
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    seen = []
    for line in proc.stderr:  # the first trial's first epoch is saved: stop there
        seen.append(line)
        if "epoch 1/3" in line:
            proc.send_signal(signal.SIGTERM)
            break
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 143, "".join(seen) + rest
    assert "state is saved: mnist-edge search --resume --out" in rest
    assert record(tmp_path)["interrupted"] is True

    resumed = run(
        [
            *SEARCH,
            "--resume",
            "--out",
            str(tmp_path / "out"),
            "--data-dir",
            str(mnist_dir),
            "--workers",
            "2",
        ]
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    doc = record(tmp_path)
    assert doc["interrupted"] is False and len(doc["trials"]) == 3
    assert {t["status"] for t in doc["trials"]} <= {"measured", "stopped early"}
    assert doc["config"]["trials"] == 3 and doc["space"]["width"] == [4, 6, 8]


def test_resume_without_a_search_is_one_line(tmp_path, mnist_dir):
    result = run(
        [
            *SEARCH,
            "--resume",
            "--out",
            str(tmp_path),
            "--data-dir",
            str(mnist_dir),
        ]
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: {tmp_path}: no search to resume here (search.json: FileNotFoundError)"
    ]


def test_a_ray_address_nothing_answers_is_one_line(tmp_path, mnist_dir):
    port = free_port()
    result = run(
        search_args(tmp_path, mnist_dir, "--trials", "1", "--ray-address", f"127.0.0.1:{port}"), timeout=60
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()
    assert len(last) == 1 and last[0].startswith(f"Error: no Ray cluster answers at 127.0.0.1:{port}")


def test_resume_refuses_options_that_would_change_the_recorded_search(tmp_path):
    args = ["--resume", "--out", str(tmp_path), "--max-kb", "16", "--seed", "2"]
    result = run([*SEARCH, *args])
    assert result.returncode == 2
    assert "--resume continues the recorded search: --max-kb, --seed cannot change it" in result.stderr
