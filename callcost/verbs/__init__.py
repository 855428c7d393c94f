"""CLI verbs by product area; each module has ``register(app: typer.Typer) -> None``.

``callcost.cli`` imports every module here and calls its ``register``: the one way a verb joins the
command, so adding a verb never means editing another area's file.  A verb reads its options, calls
one library function an analyst could call from a notebook, and prints the result; it raises
rather than printing errors (``callcost.cli`` turns them into messages).
"""
