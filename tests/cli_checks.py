"""Assertions shared by the CLI tests."""

from __future__ import annotations


def one_line_error(result, pattern: str) -> None:
    """Exit 1 with exactly one `error: ...` line containing `pattern`, and no traceback."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, (SystemExit, type(None)))
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and pattern in errors[0], result.output
