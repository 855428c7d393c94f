"""CLI verbs by product area; each module has ``register(app: typer.Typer) -> None``.

``callcost.cli`` imports every module here, so adding a verb never means editing another area's file.
"""
