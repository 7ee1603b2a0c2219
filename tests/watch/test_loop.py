"""The watch loop and command end to end: a real video, a real Mosquitto broker, real signals."""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import free_port, require_extra

from mnist_edge.cli import main
from mnist_edge.constants import NUMBER_UNSURE_BELOW
from mnist_edge.runtime import Predictor, default_model_path
from mnist_edge.runtime.reading import Reader
from mnist_edge.watch import WatchConfig, loop
from mnist_edge.watch.loop import Watcher, crop
from mnist_edge.watch.sources import Frame, SourceLost

require_extra("av", "watch")
MOSQUITTO = shutil.which("mosquitto") or (
    "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
)


def readings(stdout: str):
    return [json.loads(line)["reading"] for line in stdout.splitlines() if line.startswith("{")]


def test_the_video_is_read_scene_by_scene(runner, digit_video):
    result = runner.invoke(main, ["watch", str(digit_video), "--stable", "3", "-q"])
    assert result.exit_code == 0, result.output
    assert readings(result.stdout) == ["3", "7", "nothing", "2"]  # one digit: the likelier of 4 and 2


def test_with_number_the_last_scene_is_42(runner, digit_video):
    result = runner.invoke(main, ["watch", str(digit_video), "--number", "--stable", "3", "-q"])
    assert result.exit_code == 0, result.output
    docs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [d["reading"] for d in docs] == ["3", "7", "nothing", "42"]
    assert [d["label"] for d in docs[-1]["digits"]] == [4, 2]
    assert docs[-1]["unsure"] == (docs[-1]["confidence"] < NUMBER_UNSURE_BELOW)


def test_a_published_line_has_time_confidence_and_stage_times(runner, digit_video):
    result = runner.invoke(main, ["watch", str(digit_video), "--frames", "5", "-q"])
    doc = json.loads(result.stdout.splitlines()[0])
    assert doc["reading"] == "3" and doc["confidence"] > 0.9 and doc["frame"] == 3
    assert set(doc["ms"]) == {"capture", "front_end", "model"} and abs(doc["time"] - time.time()) < 60


def test_a_region_of_interest_reads_only_that_part(runner, digit_video):
    # the scenes' digits sit in the middle: the top-left corner is empty paper
    result = runner.invoke(main, ["watch", str(digit_video), "--roi", "0,0,100,100", "--stable", "2", "-q"])
    assert readings(result.stdout) == ["nothing"]


@pytest.mark.parametrize("roi", ["1,2,3", "a,b,c,d", "0,0,0,10"])
def test_a_bad_roi_is_a_usage_error(runner, digit_video, roi):
    result = runner.invoke(main, ["watch", str(digit_video), "--roi", roi])
    assert result.exit_code == 2 and "--roi" in result.output


def test_crop_clips_to_the_frame():
    image = np.arange(100, dtype=np.uint8).reshape(10, 10)
    assert crop(image, (8, 8, 5, 5)).shape == (2, 2) and crop(image, None) is image


def test_a_frame_of_a_narrow_digit_the_model_doubts_is_read_wider_as_predict_reads_it(mnist):
    from mnist_edge.synthesis import augment

    reader = Reader(Predictor(default_model_path()))
    narrow = np.pad(augment.narrowed(mnist.x_test[95], 0.45), 40)  # a 4 the model doubts this narrow
    seen = loop.read_frame(reader, None, narrow)
    assert seen.reading == "4" == reader.read_gray("", narrow.astype(np.float32) / 255).label


def test_bench_prints_per_stage_percentiles_and_drops(runner, digit_video):
    result = runner.invoke(main, ["watch", str(digit_video), "--bench", "30", "-q"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[1:7]] == [
        "capture",
        "front_end",
        "model",
        "publish",
        "loop",
        "per",
    ]
    assert "frames read" in lines[-1] and "dropped" in lines[-1] and "frames/s" in lines[-1]
    assert not any(line.startswith("{") for line in lines)  # --bench publishes nothing on stdout


def test_saved_frames_are_bounded(runner, digit_video, tmp_path):
    result = runner.invoke(
        main,
        [
            "watch",
            str(digit_video),
            "--stable",
            "1",
            "--save-dir",
            str(tmp_path / "kept"),
            "--keep",
            "2",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(readings(result.stdout)) > 2 and len(list((tmp_path / "kept").glob("*.png"))) == 2


def test_a_file_that_is_no_video_is_one_line(runner, tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("no")
    result = runner.invoke(main, ["watch", str(bad)])
    assert result.exit_code == 1 and "not a video FFmpeg can read" in result.output
    assert "Traceback" not in result.output


class FlakyCamera:
    """Lost at first, then three frames of a 7, then lost for good (the test stops it)."""

    def __init__(self, seven):
        self.opened = 0
        self.seven = seven

    def __call__(self):
        self.opened += 1
        camera = self

        class Source:
            def frames(self):
                if camera.opened == 1:
                    raise SourceLost("/dev/video9: cannot open (No such device)")
                for _ in range(3):
                    time.sleep(0.1)  # a camera's pace: no frame dropped
                    yield Frame(camera.seven, time.time())

            def close(self):
                pass

        return Source()


class Recorder:
    def __init__(self):
        self.published, self.available = [], []

    def publish(self, doc):
        self.published.append(doc["reading"])

    def availability(self, online):
        self.available.append(online)

    def close(self):
        pass


def test_a_lost_camera_is_one_line_then_retried(seven_page):
    camera, sink, warnings = FlakyCamera(seven_page), Recorder(), []
    reader = Reader(Predictor(default_model_path()))
    watcher = Watcher(
        WatchConfig("/dev/video9", stable=2), reader, [sink], warnings.append, source_factory=camera
    )
    started = time.monotonic()
    counts = watcher.run()  # lost, retried after 1 s, three frames, then the source ends
    assert camera.opened == 2 and counts.lost == 1 and time.monotonic() - started >= 1.0
    assert warnings == [
        "/dev/video9: cannot open (No such device); the reading is unavailable; retrying in 1 s"
    ]
    assert sink.available == [False, True] and sink.published == ["7"]


@pytest.fixture
def broker():
    if MOSQUITTO is None:
        pytest.fail("mosquitto is not installed (apt-get install mosquitto; ./scripts/test.sh installs it)")
    port = free_port()
    proc = start_broker(port)
    yield port
    proc.terminate()
    proc.wait(timeout=10)


def subscribe(port, topic="#"):
    """A real MQTT client recording every message (retained ones too) in order."""
    import paho.mqtt.client as paho

    messages, ready = [], threading.Event()
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="test-listener")
    client.on_connect = lambda c, u, f, rc, p=None: (c.subscribe(topic, qos=1), ready.set())
    client.on_message = lambda c, u, m: messages.append((m.topic, m.payload.decode(), m.retain))
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert ready.wait(10)
    return client, messages


def run_watch(*args, env=None, timeout=60):
    return subprocess.run(
        [sys.executable, "-m", "mnist_edge", "watch", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def test_readings_reach_mqtt_with_home_assistant_discovery(broker, digit_video):
    client, messages = subscribe(broker)
    url = f"mqtt://127.0.0.1:{broker}/home/desk"
    done = run_watch(
        str(digit_video), "--mqtt", url, "--ha-discovery", "--name", "desk", "--stable", "3", "-q"
    )
    time.sleep(0.5)
    client.loop_stop()
    assert done.returncode == 0, done.stderr
    config = [json.loads(p) for t, p, _ in messages if t == "homeassistant/sensor/desk/reading/config"]
    assert config and config[0]["state_topic"] == "home/desk/state"
    assert (
        config[0]["availability_topic"] == "home/desk/availability"
        and config[0]["unique_id"] == "desk_reading"
    )
    states = [json.loads(p)["reading"] for t, p, _ in messages if t == "home/desk/state"]
    assert states == ["3", "7", "nothing", "2"]
    availability = [p for t, p, _ in messages if t == "home/desk/availability"]
    assert availability[0] == "online" and availability[-1] == "offline"
    assert readings(done.stdout) == states  # the log has every reading too


def test_the_last_reading_is_retained_for_a_late_subscriber(broker, digit_video):
    done = run_watch(str(digit_video), "--mqtt", f"mqtt://127.0.0.1:{broker}/late", "--stable", "3", "-q")
    assert done.returncode == 0, done.stderr
    client, messages = subscribe(broker, "late/#")
    time.sleep(0.5)
    client.loop_stop()
    retained = {t: p for t, p, r in messages if r}
    assert json.loads(retained["late/state"])["reading"] == "2" and retained["late/availability"] == "offline"


def test_a_broker_that_is_down_is_one_warning_and_readings_are_still_logged(digit_video):
    done = run_watch(str(digit_video), "--mqtt", f"mqtt://127.0.0.1:{free_port()}/x", "--stable", "3", "-q")
    assert done.returncode == 0, done.stderr
    assert readings(done.stdout) == ["3", "7", "nothing", "2"]
    assert done.stderr.count("not connected") == 1 and "readings still logged" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("url", ["http://host/x", "mqtt://host", "mqtt:///topic", "mqtt://host:port/x"])
def test_a_bad_mqtt_url_is_one_line(runner, digit_video, url):
    result = runner.invoke(main, ["watch", str(digit_video), "--mqtt", url])
    assert result.exit_code == 1 and "--mqtt" in result.output and "Traceback" not in result.output


def test_sigterm_stops_cleanly_and_says_offline(broker, tmp_path):
    client, messages = subscribe(broker, "term/#")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mnist_edge",
            "watch",
            str(tmp_path),
            "--mqtt",
            f"mqtt://127.0.0.1:{broker}/term",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert wait_for(lambda: ("term/availability", "online") in [(t, p) for t, p, _ in messages])
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=15)
    time.sleep(0.3)
    client.loop_stop()
    assert proc.returncode == 0, err
    assert "stopped:" in err and "Traceback" not in err
    assert [p for t, p, _ in messages if t == "term/availability"][-1] == "offline"


def start_broker(port):
    proc = subprocess.Popen(
        [MOSQUITTO, "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    import socket

    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    raise AssertionError("mosquitto did not start")


def drop_images(folder, pages, pause=0.4):
    """A camera app writing frames into a folder, one every ``pause`` seconds."""
    from PIL import Image

    for k, page in enumerate(pages):
        Image.fromarray(page).save(folder / f"frame_{time.time_ns()}_{k:03d}.png")
        time.sleep(pause)


def wait_for(predicate, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_readings_resume_after_the_broker_restarts(tmp_path, seven_page, three_page):
    if MOSQUITTO is None:
        pytest.fail("mosquitto is not installed (apt-get install mosquitto; ./scripts/test.sh installs it)")
    port = free_port()
    broker = start_broker(port)
    folder = tmp_path / "frames"
    folder.mkdir()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mnist_edge",
            "watch",
            str(folder),
            "--interval",
            "0.1",
            "--stable",
            "1",
            "--mqtt",
            f"mqtt://127.0.0.1:{port}/re",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        client, messages = subscribe(port, "re/#")
        # watching has begun once the service says it is online (files already there are not read)
        assert wait_for(lambda: ("re/availability", "online") in [(t, p) for t, p, _ in messages])
        time.sleep(0.5)
        drop_images(folder, [seven_page])
        assert wait_for(lambda: any(t == "re/state" for t, _, _ in messages))
        client.loop_stop()
        broker.terminate()
        broker.wait(timeout=10)
        drop_images(folder, [three_page])  # read while the broker is away: logged, queued
        broker = start_broker(port)
        client, messages = subscribe(port, "re/#")
        assert wait_for(
            lambda: any(t == "re/state" and json.loads(p)["reading"] == "3" for t, p, _ in messages)
        )
        assert wait_for(lambda: ("re/availability", "online") in [(t, p) for t, p, _ in messages])
        client.loop_stop()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
        broker.terminate()
        broker.wait(timeout=10)
    assert proc.returncode == 0, err
    assert readings(out) == ["7", "3"]
    assert "not connected" in err and "connected again" in err


def test_the_last_will_says_offline_when_the_process_dies(broker, tmp_path):
    client, messages = subscribe(broker, "will/#")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mnist_edge",
            "watch",
            str(tmp_path),
            "--mqtt",
            f"mqtt://127.0.0.1:{broker}/will",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert wait_for(lambda: ("will/availability", "online") in [(t, p) for t, p, _ in messages])
    proc.kill()  # no clean stop: only the broker can say it
    proc.wait(timeout=10)
    assert wait_for(
        lambda: [p for t, p, _ in messages if t == "will/availability"][-1] == "offline", timeout=60
    )
    client.loop_stop()


class BlankCamera:
    """``n`` blank frames as fast as they can be read, then the end."""

    def __init__(self, n):
        self.n = n

    def __call__(self):
        n = self.n

        class Source:
            def frames(self):
                for _ in range(n):
                    time.sleep(0.002)  # a fast camera's pace: few frames dropped
                    yield Frame(np.full((16, 16), 200, np.uint8), time.time())

            def close(self):
                pass

        return Source()


def test_a_long_watch_keeps_the_times_of_recent_frames_only(monkeypatch):
    monkeypatch.setattr(loop, "RECENT_FRAMES", 50)
    reader = Reader(Predictor(default_model_path()))
    watcher = Watcher(WatchConfig("cam"), reader, [Recorder()], print, source_factory=BlankCamera(400))
    counts = watcher.run()
    assert counts.frames + watcher.dropped == 400 and counts.frames > 50
    assert len(counts.times) == 50 and counts.times["front_end"].shape == (50,)
