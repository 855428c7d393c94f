"""``python -m callcost`` = the ``callcost`` command.

``python -m`` puts the working folder first on ``sys.path``.  Our top-level packages have plain names
(``reports``, ``analytics``…), and a folder of report files named ``reports/`` in the working folder would
then shadow the installed package as a namespace package.  The console script never does this, so neither
does ``python -m callcost``.
"""

import os
import sys

if sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

from callcost.cli import app  # noqa: E402  (after the sys.path fix above, on purpose)

app()
