"""Inputs that used to crash, exhaust or destroy: each reproduced, each now one line (no TensorFlow).

Crash-prone cases run in child processes, so a segfault fails the test
instead of killing it, and their peak memory is measured.
"""

import gzip
import io
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers import FIXTURES, FUZZ_IMAGES
from PIL import Image

from mnist_edge import runtime
from mnist_edge.errors import ImageError
from mnist_edge.runtime import flatbuf, reading

DEFAULT = runtime.default_model_path()


# A small launcher runs the command and reports its peak RSS from RUSAGE_CHILDREN:
# ru_maxrss of a process forked from this (large) test process would include the
# pages it inherited, even after exec.
LAUNCHER = (
    "import json, resource, subprocess, sys\n"
    "cmd = [sys.executable, '-m', 'mnist_edge'] + sys.argv[1:]\n"
    "r = subprocess.run(cmd, capture_output=True, text=True)\n"
    "print(json.dumps({'rc': r.returncode, 'stdout': r.stdout, 'stderr': r.stderr,\n"
    "    'maxrss': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))\n"
)


def run_cli(args, **kwargs):
    """``python -m mnist_edge ARGS`` in a child: (returncode, stdout, stderr, peak RSS MB)."""
    result = subprocess.run(
        [sys.executable, "-c", LAUNCHER] + [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        **kwargs,
    )
    doc = json.loads(result.stdout)
    return doc["rc"], doc["stdout"], doc["stderr"].strip(), doc["maxrss"] / 1024


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.strip()]


@pytest.fixture
def digit_png(tmp_path, mnist):
    path = tmp_path / "digit.png"
    Image.fromarray(mnist.x_test[0]).save(path)
    return path


# -- model files ------------------------------------------------------------------


def tensor_quant_zero_point_offset(content: bytes, tensor_index: int) -> int:
    """Byte offset of a tensor's first zero point (int64) in a .tflite file."""
    reader = flatbuf.Reader(content)
    tensor = reader.root().tables(2)[0].tables(0)[tensor_index]
    quant = tensor.table(4)
    start, length = quant._vector(3, 8)
    assert length >= 1
    return start


def patched(content: bytes, offset: int, fmt: str, value) -> bytes:
    data = bytearray(content)
    struct.pack_into("<" + fmt, data, offset, value)
    return bytes(data)


def test_out_of_range_zero_point_is_refused_not_a_segfault(tmp_path, digit_png):
    content = (FIXTURES / "mnist_mlp_int8_uint8io.tflite").read_bytes()
    bad = tmp_path / "bad_zero_point.tflite"
    bad.write_bytes(patched(content, tensor_quant_zero_point_offset(content, 0), "q", 300))
    rc, _, stderr, _ = run_cli(["predict", "--model", bad, digit_png])
    assert rc == 1, stderr
    assert (
        error_lines(stderr)
        == [f"Error: {bad}: invalid TFLite model (tensor 0 (image) has a zero point outside the uint8 range)"]
        or "zero point" in stderr
    )
    assert len(error_lines(stderr)) == 1


def reshape_target_offset(content: bytes) -> int:
    """Byte offset of the first value of the first RESHAPE's constant target shape."""
    from mnist_edge.runtime import validate

    facts = validate.parse(content)
    op = next(o for o in facts.ops if o.name == "RESHAPE")
    start, _ = facts.buffer_spans[facts.tensors[op.inputs[1]].buffer]
    return start


def test_a_reshape_to_sixteen_million_is_refused_fast_and_small(tmp_path, digit_png):
    content = DEFAULT.read_bytes()
    bad = tmp_path / "huge_batch.tflite"
    bad.write_bytes(patched(content, reshape_target_offset(content), "i", 16_777_217))
    rc, _, stderr, rss = run_cli(["predict", "--model", bad, digit_png])
    assert rc == 1 and "RESHAPE" in stderr and len(error_lines(stderr)) == 1, stderr
    assert rss < 300, rss


def test_a_2_gb_file_is_refused_from_its_header(tmp_path, digit_png):
    big = tmp_path / "big.tflite"
    with open(big, "wb") as handle:
        handle.write(b"NOTAMODEL")
        handle.truncate(2 << 30)  # sparse: 2 GB that cost nothing on disk
    rc, _, stderr, rss = run_cli(["predict", "--model", big, digit_png])
    assert rc == 1 and "not a TFLite model" in stderr, stderr
    assert rss < 200, rss


def test_a_2_gb_model_is_refused_before_it_is_read(tmp_path, digit_png):
    big = tmp_path / "big.tflite"
    with open(big, "wb") as handle:
        handle.write(DEFAULT.read_bytes()[:8])
        handle.truncate(2 << 30)
    rc, _, stderr, rss = run_cli(["predict", "--model", big, digit_png])
    assert rc == 1 and "too large" in stderr and rss < 200, (stderr, rss)


def test_an_interpreter_crash_in_the_probe_is_one_line(tmp_path, monkeypatch):
    """The first load of a user's model runs in a child: a signal there is an error here."""
    from mnist_edge.runtime import guard

    monkeypatch.setattr(guard, "_PROBE", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    monkeypatch.setenv("MNIST_EDGE_CACHE", str(tmp_path / "cache"))
    model = tmp_path / "m.tflite"
    shutil.copy(DEFAULT, model)
    with pytest.raises(runtime.RuntimeModelError, match=r"crashed on this model \(signal SIGSEGV"):
        runtime.Predictor(model, untrusted=True)


# -- data files ---------------------------------------------------------------------


def idx_header(ndim, *dims):
    return struct.pack(">HBB", 0, 8, ndim) + struct.pack(">" + "I" * ndim, *dims)


def mnist_folder(tmp_path, images_bytes):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "train-images-idx3-ubyte.gz").write_bytes(images_bytes)
    (folder / "train-labels-idx1-ubyte").write_bytes(idx_header(1, 2) + bytes(2))
    (folder / "t10k-images-idx3-ubyte").write_bytes(idx_header(3, 2, 28, 28) + bytes(2 * 784))
    (folder / "t10k-labels-idx1-ubyte").write_bytes(idx_header(1, 2) + bytes(2))
    return folder


def gzip_bomb(header: bytes, megabytes: int) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as g:
        g.write(header)
        for _ in range(megabytes):
            g.write(bytes(1 << 20))
    return out.getvalue()


DATA_CASES = [
    (
        "dimensions overflowing 2^64",
        lambda: gzip.compress(idx_header(3, 2**31, 2**31, 4) + bytes(64)),
        "more than MNIST-like data can be",
    ),
    (
        "1 MB gzip declaring 1 GiB",
        lambda: gzip_bomb(idx_header(3, 1_369_000, 28, 28), 1024),
        "more than MNIST-like data can be",
    ),
    (
        "gzip longer than its header says",
        lambda: gzip_bomb(idx_header(3, 2, 28, 28), 300),
        "truncated or padded",
    ),
]


@pytest.mark.parametrize("name,make,message", DATA_CASES, ids=[c[0] for c in DATA_CASES])
def test_hostile_idx_files_are_one_line_and_small(tmp_path, name, make, message):
    folder = mnist_folder(tmp_path, make())
    rc, _, stderr, rss = run_cli(["eval", "--model", DEFAULT, "--data-dir", folder])
    assert rc == 1 and message in stderr and len(error_lines(stderr)) == 1, stderr
    assert rss < 500, rss


def test_a_small_npz_that_expands_to_gigabytes_stops_at_its_header(tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "|u1", "fortran_order": False, "shape": (2_000_000, 28, 28)}
    )
    path = tmp_path / "mnist.npz"
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("x_train.npy", "w", force_zip64=True) as member,
    ):
        member.write(np.lib.format.magic(1, 0) + header.getvalue()[8:])
        for _ in range(200):
            member.write(bytes(1 << 20))
    assert path.stat().st_size < 1_000_000
    rc, _, stderr, rss = run_cli(["eval", "--model", DEFAULT, "--data-dir", path])
    assert rc == 1 and "more than MNIST-like data can be" in stderr, stderr
    assert rss < 300, rss


# -- images and inputs ------------------------------------------------------------------


def test_a_huge_npy_is_refused_from_its_header(tmp_path, digit_png):
    path = tmp_path / "huge.npy"
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(
            handle, {"descr": "|u1", "fortran_order": False, "shape": (12000, 12000)}
        )
        handle.truncate(handle.tell() + 12000 * 12000)
    rc, stdout, stderr, rss = run_cli(["predict", "--json", path, digit_png])
    assert rc == 4 and rss < 200, (stderr, rss)
    doc = {Path(d["path"]).name: d for d in json.loads(stdout)}
    assert doc["huge.npy"]["error"] == "image too large (12000x12000; at most 100 megapixels)"
    assert doc["digit.png"]["label"] == "7"


def fake_png(path, width, height):
    from helpers import fake_png_bytes

    path.write_bytes(fake_png_bytes(width, height))
    return path


@pytest.mark.parametrize("width,height", [(10_001, 10_000), (20_000, 20_000)])
def test_one_message_for_every_image_over_the_limit(tmp_path, width, height):
    reader = reading.Reader(runtime.Predictor(DEFAULT))
    result = reader.read_file(fake_png(tmp_path / "big.png", width, height))
    assert result.error.startswith("image too large")
    assert "100 megapixels" in result.error


TINY_WEBP_BOMB = FUZZ_IMAGES / "webp-declares-77-megapixels.webp"


def test_a_tiny_webp_that_declares_77_megapixels_is_refused_before_decoding(digit_png):
    """Found by the fuzzer: 138 bytes that libwebp would fill to 300 MB."""
    rc, stdout, stderr, rss = run_cli(["predict", "--json", TINY_WEBP_BOMB, digit_png])
    assert rc == 4 and rss < 200, (stderr, rss)
    doc = {Path(d["path"]).name: d for d in json.loads(stdout)}
    assert doc[TINY_WEBP_BOMB.name]["error"].startswith("image too large to decode (15902x4863 RGB")
    assert doc["digit.png"]["label"] == "7"


ONE_BIT_BAND = TINY_WEBP_BOMB.parent / "tiff-30x512-one-bit-band-tag-past-end.tif"


@pytest.mark.parametrize("command", [["predict"], ["eval", "--images"]], ids=["predict", "eval-images"])
def test_a_one_bit_tiff_band_is_no_digit_without_a_traceback_or_warning(tmp_path, command):
    """Shipped once as a ZeroDivisionError after a Pillow UserWarning (a fuzzer finding)."""
    folder = tmp_path / "images"
    folder.mkdir()
    shutil.copy(ONE_BIT_BAND, folder / "band_3.tif")
    rc, stdout, stderr, _ = run_cli([*command, folder])
    assert rc == 0, stderr
    assert "Traceback" not in stderr and "Warning" not in stderr, stderr
    assert "no digit found" in stdout or "not a digit" in stdout, stdout


@pytest.mark.parametrize(
    "mode,width,height,refused",
    [
        ("RGB", 6400, 6400, False),  # 41 MP colour: 156 MB decoded
        ("RGB", 6600, 6600, True),  # 44 MP colour: 166 MB
        ("RGBA", 7000, 6000, True),
        ("L", 10000, 10000, False),  # grey: one byte a pixel, 100 MP is fine
        ("I;16", 9000, 9000, False),  # 16-bit: two bytes, 155 MB
        ("I;16", 9500, 9500, True),
    ],
)
def test_the_decode_budget_counts_bytes_per_pixel_of_the_mode(tmp_path, mode, width, height, refused):
    from helpers import fake_png_bytes

    from mnist_edge.preprocess.load import open_image_bytes

    data = fake_png_bytes(width, height, mode)
    with pytest.raises(ImageError) as caught:
        open_image_bytes(data)  # under the budget, the empty pixel data fails instead
    assert ("too large to decode" in str(caught.value)) == refused, str(caught.value)


@pytest.mark.slow
def test_a_96_megapixel_jpeg_is_read(tmp_path, mnist):
    page = Image.new("L", (12000, 8000), 235)
    glyph = Image.fromarray(255 - mnist.x_test[0]).resize((3000, 3000), Image.BILINEAR)
    page.paste(glyph, (4000, 2500))
    path = tmp_path / "96mp.jpg"
    page.save(path, quality=70)
    del page
    rc, stdout, stderr, rss = run_cli(["predict", "--json", path])
    assert rc == 0, stderr
    assert json.loads(stdout)[0]["label"] == "7"
    assert rss < 500, rss


def test_decoder_warnings_do_not_leak(tmp_path, mnist):
    noisy = tmp_path / "noisy.tif"
    values = mnist.x_test[0].astype(np.float32) / 255
    values[0, 0] = np.inf
    Image.fromarray(values, mode="F").save(noisy)
    exif = tmp_path / "exif.jpg"
    Image.fromarray(255 - mnist.x_test[0]).resize((200, 200)).save(exif, exif=b"Exif\x00\x00MM\x00*garbage")
    rc, stdout, stderr, _ = run_cli(["predict", "-q", noisy, exif])
    assert rc == 0, stderr
    assert stderr == "" and len(stdout.strip().splitlines()) == 2


def test_pillows_error_log_does_not_leak():
    """A TIFF claiming 122 samples a pixel: Pillow logs at ERROR, then raises."""
    tiff = FIXTURES / "tiff-122-samples-per-pixel.tif"
    rc, stdout, stderr, _ = run_cli(["predict", "-q", tiff])
    assert rc == 4
    unreadable = "not an image Pillow can read (unknown format or corrupt header)"
    assert error_lines(stderr)[0] == f"{tiff}: error: {unreadable}"
    assert "samples per pixel" not in stderr + stdout


def test_a_newline_in_a_file_name_keeps_one_line_per_result(tmp_path, mnist):
    odd = tmp_path / "odd\nname.png"
    Image.fromarray(mnist.x_test[0]).save(odd)
    rc, stdout, stderr, _ = run_cli(["predict", "-q", odd, tmp_path / "missing\nfile.png"])
    assert rc == 4
    lines = stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{tmp_path}/odd\\nname.png: 7 (")
    assert error_lines(stderr)[0] == f"{tmp_path}/missing\\nfile.png: error: no such file"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_file_is_its_own_error(tmp_path, digit_png):
    locked = tmp_path / "locked.png"
    shutil.copy(digit_png, locked)
    locked.chmod(0)
    rc, _, stderr, _ = run_cli(["predict", locked, digit_png])
    assert rc == 4 and "locked.png: error: cannot read" in stderr


def test_a_file_the_system_refuses_to_read_is_its_own_error_even_as_root(tmp_path, digit_png, monkeypatch):
    """As above where chmod cannot lock root out: the OS's refusal is simulated at open()."""
    from click.testing import CliRunner
    from PIL import Image

    from mnist_edge.cli import main

    locked = tmp_path / "locked.png"
    shutil.copy(digit_png, locked)
    real_open = Image.open

    def refusing_open(fp, *args, **kwargs):
        if str(fp) == str(locked):
            raise PermissionError(13, "Permission denied", str(fp))
        return real_open(fp, *args, **kwargs)

    monkeypatch.setattr(Image, "open", refusing_open)
    result = CliRunner().invoke(main, ["predict", str(locked), str(digit_png)])
    assert result.exit_code == 4, result.output
    assert result.stdout.startswith(f"{digit_png}: 7 (")
    assert f"{locked}: error: " in result.stderr and "Permission denied" in result.stderr


@pytest.mark.parametrize("batch_size", [-1, 0, 2.5, True])
def test_bad_batch_sizes_are_refused(batch_size, mnist):
    with pytest.raises(runtime.InputError, match="batch_size must be a positive integer"):
        runtime.Predictor(DEFAULT).probabilities(mnist.x_test[:4], batch_size=batch_size)


# -- sidecars -----------------------------------------------------------------------------


def sidecar_case(edit):
    doc = json.loads(DEFAULT.with_suffix(".json").read_text())
    edit(doc)
    return doc


SIDECAR_CASES = [
    ("missing scale", lambda d: d["input"]["quantization"].pop("scale"), "numeric scale"),
    ("5 labels", lambda d: d.update(labels=["0", "1", "2", "3", "4"]), "10 distinct"),
    ("scale is text", lambda d: d["input"]["quantization"].update(scale="abc"), "numeric scale"),
    ("normalization null", lambda d: d["input"].update(normalization=None), "must be an object"),
    ("empty sha256", lambda d: d.update(tflite_sha256=""), "64-digit SHA-256"),
    ("edited zero point", lambda d: d["input"]["quantization"].update(zero_point=0), "disagrees with"),
    ("edited normalization", lambda d: d["input"]["normalization"].update(scale=1.0), "is not pixel / 255"),
    ("bad threshold", lambda d: d.update(abstain={"min_confidence": 7}), "min_confidence"),
    (
        "unknown abstain score",
        lambda d: d.update(abstain={"min_confidence": 0.5, "score": "top9"}),
        "abstain.score",
    ),
    (
        "reference outside",
        lambda d: d.update(reference={"file": "../x.npz", "sha256": "0" * 64}),
        "file name beside the model",
    ),
]


@pytest.mark.parametrize("name,edit,message", SIDECAR_CASES, ids=[c[0] for c in SIDECAR_CASES])
def test_malformed_sidecars_are_one_line(tmp_path, name, edit, message):
    model = tmp_path / "m.tflite"
    shutil.copy(DEFAULT, model)
    model.with_suffix(".json").write_text(json.dumps(sidecar_case(edit)))
    with pytest.raises(runtime.RuntimeModelError, match=message) as err:
        runtime.Predictor(model)
    assert "\n" not in str(err.value)


def test_a_deeply_nested_sidecar_is_one_line(tmp_path):
    model = tmp_path / "m.tflite"
    shutil.copy(DEFAULT, model)
    model.with_suffix(".json").write_text('{"a": ' * 100_000 + "1" + "}" * 100_000)
    with pytest.raises(runtime.RuntimeModelError, match="unreadable metadata"):
        runtime.Predictor(model)


# -- writing ------------------------------------------------------------------------------


def test_results_to_a_full_device_are_one_line(digit_png):
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "mnist_edge", "predict", "-q", str(digit_png)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert result.returncode == 1
    assert error_lines(result.stderr) == [
        "Error: cannot write the results to standard output (No space left on device)"
    ]


def test_debug_output_never_replaces_an_input(tmp_path, mnist):
    folder = tmp_path / "d"
    folder.mkdir()
    photo = folder / "photo.png"
    Image.fromarray(255 - np.kron(mnist.x_test[0], np.ones((6, 6), np.uint8))).save(photo)
    Image.fromarray(mnist.x_test[1]).save(folder / "notes.png")
    Image.fromarray(mnist.x_test[2]).convert("RGB").save(folder / "notes.jpg")
    before = photo.read_bytes()
    for _ in range(2):
        rc, stdout, stderr, _ = run_cli(["predict", "-q", "--debug-dir", folder, folder])
        assert rc == 0, stderr
        assert len(stdout.strip().splitlines()) == 3  # debug images are never read as inputs
    assert photo.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == [
        "notes.jpg",
        "notes.jpg.seen-2.png",
        "notes.jpg.seen.png",
        "notes.png",
        "notes.png.seen-2.png",
        "notes.png.seen.png",
        "photo.png",
        "photo.png.seen-2.png",
        "photo.png.seen.png",
    ]


def test_debug_names_around_folders_and_long_names(tmp_path, mnist):
    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.fromarray(mnist.x_test[0]).save(inputs / "a.png")
    Image.fromarray(mnist.x_test[1]).save(inputs / ("b" * 246 + ".png"))
    out = tmp_path / "seen"
    out.mkdir()
    (out / "a.png.seen.png").mkdir()  # a folder in the way: another name is taken
    rc, stdout, stderr, _ = run_cli(["predict", "--json", "--debug-dir", out, inputs])
    assert rc == 4, stderr
    a, b = json.loads(stdout)
    assert (a["label"], b["label"]) == ("7", "2")  # every result kept
    assert a["debug_image"].endswith("a.png.seen-2.png") and "error" not in a
    assert b["error"].startswith("debug image not saved") and "File name too long" in b["error"]
    assert "Traceback" not in stderr


def _limit_file_size():
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100))


def test_a_full_disk_for_debug_images_keeps_the_results(tmp_path, digit_png):
    rc, stdout, stderr, _ = run_cli(
        ["predict", "--json", "--debug-dir", tmp_path / "seen", digit_png], preexec_fn=_limit_file_size
    )
    assert rc == 4, stderr
    (result,) = json.loads(stdout)
    assert result["label"] == "7" and "debug image not saved" in result["error"]
    assert not list((tmp_path / "seen").iterdir())  # no partial file either


def test_bench_report_into_an_unwritable_folder_fails_before_measuring(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    rc, _, stderr, _ = run_cli(["bench", "--model", DEFAULT, "--report", blocker / "report"])
    assert rc == 1 and "cannot create output folder" in stderr
    assert len(error_lines(stderr)) == 1
