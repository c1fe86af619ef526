"""The ``tracegraph`` command line, the top layer: the only code allowed to import ``api``.

:data:`app` (the ``tracegraph`` console script, ``tracegraph.cli:app``, and
``python -m tracegraph.cli``) is built in :mod:`tracegraph.cli.main`, which mounts the command
groups of :mod:`tracegraph.cli.admin` (``user``, ``audit``), :mod:`tracegraph.cli.quality`,
:mod:`tracegraph.cli.signals` and :mod:`tracegraph.cli.versions` (``diff``, ``impact``).
"""

from tracegraph.cli.main import app

__all__ = ["app"]
