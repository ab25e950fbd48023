"""``python -m redun``: the ``redun`` command (what a remote job runs as ``redun oneshot``)."""

import sys

from redun.cli.main import main

sys.exit(main())
