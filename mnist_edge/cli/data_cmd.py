"""``mnist-edge data``: get MNIST onto this machine, and say where the commands look for it."""

from __future__ import annotations

import click

from mnist_edge.cli.common import out


@click.group(name="data")
def command():
    """MNIST for eval and bench on a machine without it (no TensorFlow needed)."""


@command.command(name="fetch")
@click.option(
    "--to",
    "dest",
    type=click.Path(dir_okay=False, path_type=str),
    default=None,
    help="Where to save mnist.npz. Default: ~/.keras/datasets/mnist.npz, where eval and bench look.",
)
@click.option("--url", default=None, help="Download from here instead of Keras's address.")
def fetch_command(dest, url):
    """Download MNIST (the mnist.npz Keras uses, 11 MB), checked against MNIST's checksums."""
    from mnist_edge.data import fetch, lookup

    path = fetch.fetch(dest or lookup.KERAS_NPZ, url or fetch.KERAS_URL)
    out(f"saved {path} (MNIST, checksums verified)")


@command.command(name="where")
@click.option("--data-dir", type=click.Path(path_type=str), default=None, help="A folder or .npz to check.")
def where_command(data_dir):
    """Say which MNIST the commands would read, in the lookup order."""
    from mnist_edge import data
    from mnist_edge.data import lookup

    source = data.resolve_source(data_dir)
    if source is None:
        out(
            f"no MNIST found (--data-dir, ${data.ENV_VAR}, {lookup.KERAS_NPZ}); "
            "get it with: mnist-edge data fetch"
        )
        return
    dataset = data.load_path(source)
    checked = "checksums verified" if dataset.verified else "not a known dataset"
    out(f"{source}: {dataset.name}, {len(dataset.y_train)} train / {len(dataset.y_test)} test ({checked})")
