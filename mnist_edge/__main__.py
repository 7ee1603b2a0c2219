"""``python -m mnist_edge`` runs the same CLI as the ``mnist-edge`` script."""

from mnist_edge.cli import main

if __name__ == "__main__":
    main(prog_name="mnist-edge")
