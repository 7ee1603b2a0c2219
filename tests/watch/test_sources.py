"""Where frames come from (watch/sources.py): a real video file, a real HTTP server, a real folder."""

import http.server
import io
import threading
import time

import numpy as np
import pytest
from helpers import free_port, require_extra
from PIL import Image

from mnist_edge.watch.sources import FolderSource, SnapshotSource, SourceLost, VideoSource, open_source

require_extra("av", "watch")


def take(source, n, timeout=10.0):
    frames, deadline = [], time.time() + timeout
    for frame in source.frames():
        frames.append(frame)
        if len(frames) == n or time.time() > deadline:
            break
    return frames


def test_a_video_file_gives_every_frame_grey(digit_video):
    frames = list(VideoSource(str(digit_video), paced=False).frames())
    assert len(frames) == 55  # 1.5 + 1.5 + 1 + 1.5 s at 10 fps
    assert all(f.image.dtype == np.uint8 and f.image.shape == (480, 640) for f in frames)


def test_a_file_plays_at_its_own_pace(digit_video):
    started = time.monotonic()
    take(VideoSource(str(digit_video), paced=True), 11)
    assert time.monotonic() - started >= 0.9  # frame 11 is at 1.0 s


def test_a_stream_that_does_not_answer_is_a_lost_source():
    with pytest.raises(SourceLost, match="cannot open"):
        next(VideoSource(f"rtsp://127.0.0.1:{free_port()}/cam").frames())


def test_a_truncated_video_gives_its_frames_and_ends(scenes, tmp_path):
    from mnist_edge.synthesis import video

    whole = video.write(tmp_path / "whole.mkv", scenes, fps=10)  # Matroska plays without its end
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    frames = list(VideoSource(str(cut), paced=False).frames())
    assert 0 < len([f for f in frames if f.image is not None]) < 55


def test_a_file_that_is_no_video_is_one_error_not_a_retry(tmp_path):
    from mnist_edge.errors import DataError

    bad = tmp_path / "notes.mp4"
    bad.write_text("no video here")
    with pytest.raises(DataError, match="not a video FFmpeg can read"):
        next(VideoSource(str(bad)).frames())


def png(value) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((40, 60), value, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_folder_gives_new_files_in_order_and_names_a_corrupt_one(tmp_path):
    (tmp_path / "old.png").write_bytes(png(1))  # there before watching: not read
    source = FolderSource(str(tmp_path), interval=0.05)
    for k, name in enumerate(["b.png", "a.png", "bad.png"]):
        (tmp_path / name).write_bytes(png(10 * (k + 1)) if name != "bad.png" else b"not a png")
        time.sleep(0.02)
    frames = take(source, 3)
    assert [f.name for f in frames] == ["b.png", "a.png", "bad.png"]
    assert [int(f.image[0, 0]) for f in frames[:2]] == [10, 20]
    assert frames[2].image is None and "corrupt file" in frames[2].error


@pytest.fixture
def snapshot_server():
    state = {"value": 0, "broken": False}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            state["value"] += 1
            body = b"garbage" if state["broken"] else png(state["value"])
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}/capture", state, server
    server.shutdown()


def test_a_snapshot_url_is_polled(snapshot_server):
    url, _, _ = snapshot_server
    frames = take(open_source("snapshot:" + url, 0.05), 3)
    assert [int(f.image[0, 0]) for f in frames] == [1, 2, 3]


def test_a_corrupt_snapshot_is_a_skipped_frame(snapshot_server):
    url, state, _ = snapshot_server
    state["broken"] = True
    (frame,) = take(SnapshotSource(url, 0.05), 1)
    assert frame.image is None and "corrupt snapshot" in frame.error


def test_a_snapshot_url_that_stops_answering_is_a_lost_source(snapshot_server):
    url, _, server = snapshot_server
    server.shutdown()
    server.server_close()
    with pytest.raises(SourceLost, match="no snapshot"):
        take(SnapshotSource(url, 0.05), 1)


def test_a_stream_cut_mid_way_is_a_lost_source(scenes, tmp_path):
    """An HTTP video stream whose server stops sending half way: the frames sent, then SourceLost."""
    from mnist_edge.synthesis import video

    data = video.write(tmp_path / "live.mkv", scenes, fps=10).read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "video/x-matroska")
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])  # then the connection closes

        def log_message(self, *args):
            pass

    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    frames = []
    try:
        with pytest.raises(SourceLost, match="stream"):
            for frame in VideoSource(f"http://127.0.0.1:{port}/live.mkv", paced=False).frames():
                frames.append(frame)
    finally:
        server.shutdown()
    assert frames and all(f.image is None or f.image.shape == (480, 640) for f in frames)
