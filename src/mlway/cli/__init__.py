"""The ``mlway`` command line: thin typer commands, one module per product."""
