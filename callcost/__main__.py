"""``python -m callcost`` = the ``callcost`` command."""

from callcost.cli import app

app()
