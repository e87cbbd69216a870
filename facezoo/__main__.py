"""``python -m facezoo ...`` is the ``facezoo`` command."""

import sys

from facezoo.cli import main

sys.exit(main())
