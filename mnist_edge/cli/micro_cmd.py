"""``mnist-edge micro``: an existing int8 ``.tflite`` checked for a microcontroller, without TensorFlow."""

from __future__ import annotations

import click

from mnist_edge.cli.common import (
    DATA_DIR_OPTION,
    JSON_OPTION,
    QUIET_OPTION,
    TEST_IMAGES_OPTION,
    echo_json,
    logger,
    out,
)


@click.command(name="micro")
@click.argument("model_path", metavar="MODEL.tflite", type=click.Path(dir_okay=False, path_type=str))
@DATA_DIR_OPTION
@TEST_IMAGES_OPTION
@click.option(
    "--c-array",
    "c_array_dir",
    type=click.Path(file_okay=False, path_type=str),
    default=None,
    help="Also write the model as NAME.h / NAME.cc (alignas(16) const unsigned char) into this folder.",
)
@JSON_OPTION
@QUIET_OPTION
def command(model_path, data_dir, test_images, c_array_dir, as_json, quiet):
    """Check an int8 model with the real TensorFlow Lite Micro kernels (the micro extra; no TensorFlow).

    Every operator must be supported by TFLM; the labels on the MNIST test
    images are compared with LiteRT's; TFLM's own recording allocator gives the
    exact tensor arena; and the fit on common boards is printed. The same check
    as export --micro, for a model exported earlier or elsewhere.
    """
    from pathlib import Path

    from mnist_edge import data as data_mod
    from mnist_edge.evaluation import micro

    log = logger(quiet)
    dataset = data_mod.load(data_dir, allow_download=False)
    if test_images:
        dataset = dataset.test_head(test_images)
    log(f"{Path(model_path).name}: checking with TensorFlow Lite Micro on {len(dataset.x_test)} images")
    result = micro.check(model_path, dataset.x_test)
    if c_array_dir:
        from mnist_edge import fsutil
        from mnist_edge.export.c_array import write_c_array  # the standard library only

        folder = fsutil.ensure_writable_dir(c_array_dir)
        result["c_array"] = [
            str(p) for p in write_c_array(Path(model_path).read_bytes(), folder, Path(model_path).stem)
        ]
    if as_json:
        echo_json(result)
        return
    out(micro.format_fit(result))
    for path in result.get("c_array", []):
        out(f"wrote {path}")
