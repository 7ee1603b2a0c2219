"""Image preprocessing: formats and modes, MNIST form, photos, blanks (no TensorFlow)."""

import io

import numpy as np
import pytest
from PIL import Image

from mnist_edge import runtime
from mnist_edge.synthesis import synth


@pytest.fixture(scope="module")
def predictor():
    return runtime.Predictor(runtime.default_model_path())


def big_dark_on_light(digit, size=200, canvas=(320, 260), at=(90, 30)):
    """An MNIST digit drawn large, dark ink on white paper, off-centre."""
    glyph = Image.fromarray(digit).resize((size, size), Image.BICUBIC)
    ink = np.asarray(glyph, dtype=np.float32) / 255
    page = np.ones((canvas[1], canvas[0]), dtype=np.float32)
    x, y = at
    page[y : y + size, x : x + size] = 1 - ink
    return Image.fromarray((page * 255).astype(np.uint8), mode="L")


def test_mnist_pngs_score_exactly_as_the_arrays(tmp_path, mnist, predictor):
    images = mnist.x_test[:300]
    for i, image in enumerate(images):
        Image.fromarray(image).save(tmp_path / f"{i}.png")
        loaded = runtime.preprocess_file(tmp_path / f"{i}.png")
        assert np.array_equal(loaded, image), i  # used as it is
    from_files = np.stack([runtime.preprocess_file(tmp_path / f"{i}.png") for i in range(300)])
    assert np.array_equal(predictor.probabilities(from_files), predictor.probabilities(images))


def test_npy_arrays(tmp_path, mnist):
    np.save(tmp_path / "u8.npy", mnist.x_test[0])
    np.save(tmp_path / "f.npy", mnist.x_test[0].astype(np.float32) / 255)
    np.save(tmp_path / "bad.npy", mnist.x_test[0].astype(np.float32))
    np.save(tmp_path / "shape.npy", np.zeros((3, 28, 28), np.uint8))
    assert np.array_equal(runtime.preprocess_file(tmp_path / "u8.npy"), mnist.x_test[0])
    assert np.array_equal(runtime.preprocess_file(tmp_path / "f.npy"), mnist.x_test[0])
    with pytest.raises(runtime.ImageError, match="divide by 255"):
        runtime.preprocess_file(tmp_path / "bad.npy")
    with pytest.raises(runtime.ImageError, match="shape"):
        runtime.preprocess_file(tmp_path / "shape.npy")


def _save(img, path, **kwargs):
    img.save(path, **kwargs)
    return path


FORMAT_MODES = [
    (fmt, mode)
    for fmt in ("png", "jpeg", "bmp", "gif", "webp", "tiff")
    for mode in ("L", "RGB", "P", "RGBA")
    if not (mode == "RGBA" and fmt in ("jpeg", "bmp"))
]  # no alpha channel there


@pytest.mark.parametrize("fmt,mode", FORMAT_MODES)
def test_formats_and_modes(tmp_path, mnist, predictor, fmt, mode):
    index = 3  # a 0; every combination must read as the same digit
    base = big_dark_on_light(mnist.x_test[index])
    if mode == "RGBA":
        # Dark ink on a fully transparent background (whose colour is black).
        ink = 255 - np.asarray(base)
        rgba = np.zeros(ink.shape + (4,), np.uint8)
        # GIF keeps 1-bit transparency: give it the hard edge a GIF export makes.
        rgba[..., 3] = np.where(ink >= 128, 255, 0) if fmt == "gif" else ink
        img = Image.fromarray(rgba, mode="RGBA")
    elif mode == "P":
        img = base.convert("RGB").convert("P", palette=Image.ADAPTIVE, colors=64)
        if fmt == "jpeg":
            img = img.convert("RGB")
    else:
        img = base.convert(mode)
    path = _save(img, tmp_path / f"digit.{fmt}")
    mnist_form = runtime.preprocess_file(path)
    assert mnist_form.shape == (28, 28) and mnist_form.dtype == np.uint8
    assert predictor.predict(mnist_form).label == mnist.y_test[index]


def test_16_bit_and_la_modes(tmp_path, mnist, predictor):
    base = np.asarray(big_dark_on_light(mnist.x_test[1]), dtype=np.uint16) * 257
    Image.fromarray(base.astype(np.uint16)).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    assert predictor.predict(runtime.preprocess_file(tmp_path / "deep.png")).label == mnist.y_test[1]
    la = big_dark_on_light(mnist.x_test[1]).convert("LA")
    la.save(tmp_path / "la.png")
    assert predictor.predict(runtime.preprocess_file(tmp_path / "la.png")).label == mnist.y_test[1]


def test_exif_rotation_is_honoured(tmp_path, mnist, predictor):
    index = 0  # a 7: rotated it is not a 7
    upright = big_dark_on_light(mnist.x_test[index]).convert("RGB")
    # Stored rotated on its side, with EXIF orientation 6 ("rotate 90 CW to view").
    stored = upright.transpose(Image.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(tmp_path / "phone.jpg", exif=exif.tobytes(), quality=95)
    stored.save(tmp_path / "no_exif.jpg", quality=95)
    upright_form = runtime.preprocess_file(tmp_path / "phone.jpg")
    assert predictor.predict(upright_form).label == mnist.y_test[index]
    sideways = runtime.preprocess_file(tmp_path / "no_exif.jpg")
    assert not np.array_equal(upright_form, sideways)


def test_mnist_form_geometry(mnist):
    page = big_dark_on_light(mnist.x_test[5], size=240, canvas=(400, 300), at=(150, 40))
    form = runtime.to_mnist(np.asarray(page, dtype=np.float32) / 255)
    ys, xs = np.nonzero(form > 30)
    assert max(ys.max() - ys.min(), xs.max() - xs.min()) + 1 <= 21  # the box is 20x20
    weights = form.astype(np.float64)
    cy = (np.arange(28)[:, None] * weights).sum() / weights.sum()
    cx = (np.arange(28)[None, :] * weights).sum() / weights.sum()
    assert abs(cy - 13.5) < 1.0 and abs(cx - 13.5) < 1.0  # centred by centre of mass
    assert form.max() == 255 and np.median(form) == 0  # white digit on black


@pytest.mark.slow  # an end-to-end run: the README command and CI run it, the fast tier does not
def test_photos_of_ink_on_squared_paper(mnist, predictor):
    """Photo-like renderings of MNIST test digits: >= 90 % right."""
    rng = np.random.default_rng(2024)
    indices = rng.choice(10000, size=200, replace=False)
    right = 0
    for i in indices:
        data = synth.render_photo(mnist.x_test[i], rng)
        gray = runtime.pil_to_gray(Image.open(io.BytesIO(data)))
        try:
            right += predictor.predict(runtime.to_mnist(gray)).label == mnist.y_test[i]
        except runtime.NoDigitError:
            pass
    assert right / len(indices) >= 0.90, right


def test_blank_images_are_no_digit(tmp_path):
    rng = np.random.default_rng(5)
    blanks = [Image.open(io.BytesIO(synth.render_blank(rng, grid=i % 2 == 0))) for i in range(16)]
    blanks += [
        Image.new("L", (300, 200), 255),
        Image.new("L", (300, 200), 0),
        Image.new("RGB", (64, 64), (120, 130, 140)),
        Image.new("L", (28, 28), 0),
        Image.fromarray((rng.normal(128, 6, (240, 320))).clip(0, 255).astype(np.uint8)),
    ]
    for k, img in enumerate(blanks):
        path = tmp_path / f"blank{k}.png"
        img.save(path)
        with pytest.raises(runtime.NoDigitError, match="no digit found"):
            runtime.preprocess_file(path)


def test_light_ink_on_a_dark_board(mnist, predictor):
    """Chalk on a blackboard: light strokes, dark noisy background, large and off-centre."""
    rng = np.random.default_rng(9)
    right = 0
    for i in range(50):
        glyph = Image.fromarray(mnist.x_test[i]).resize((180, 180), Image.BICUBIC)
        board = rng.uniform(0.1, 0.35) + rng.normal(0, 0.03, (400, 500))
        alpha = np.asarray(glyph, dtype=np.float64) / 255
        y, x = int(rng.integers(0, 220)), int(rng.integers(0, 320))
        board[y : y + 180, x : x + 180] = board[y : y + 180, x : x + 180] * (1 - alpha) + 0.9 * alpha
        form = runtime.to_mnist(np.clip(board, 0, 1).astype(np.float32))
        right += predictor.predict(form).label == mnist.y_test[i]
    assert right >= 45, right


def test_synth_command_writes_labelled_photos(tmp_path, mnist_dir, predictor):
    out = tmp_path / "photos"
    assert synth.main([str(out), "--count", "4", "--seed", "3", "--data-dir", str(mnist_dir)]) == 0
    rows = (out / "labels.csv").read_text().strip().splitlines()
    assert rows[0] == "file,label,test_index" and len(rows) == 5
    for row in rows[1:]:
        name, label, _ = row.split(",")
        image = Image.open(out / name)
        assert image.format == "JPEG" and image.size in ((640, 480), (480, 640))
        assert 0 <= int(label) <= 9
