"""``python -m tracegraph.cli …``: the same command line as the ``tracegraph`` script."""

from tracegraph.cli import app

app()
