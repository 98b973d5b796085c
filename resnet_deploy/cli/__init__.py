"""The Typer command line: thin commands over library functions."""
