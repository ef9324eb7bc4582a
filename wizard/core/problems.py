"""Problems found in an input file, and the exception that refuses one."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Problem:
    """One error or warning, with where it is: a JSON path (``memories[3].id``), and for syntax
    errors the line and column (1-based)."""

    path: str
    message: str
    line: int | None = None
    column: int | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        if self.line is None:
            d.pop("line")
            d.pop("column")
        return d

    def where(self) -> str:
        if self.line is not None:
            return f"line {self.line}, column {self.column}"
        return self.path or "(file)"

    def __str__(self) -> str:
        return f"{self.where()}: {self.message}"


class InputRefused(Exception):
    """The input cannot be imported. ``problem`` says what and where; nothing was written."""

    def __init__(
        self, message: str, path: str = "", line: int | None = None, column: int | None = None
    ) -> None:
        super().__init__(message)
        self.problem = Problem(path=path, message=message, line=line, column=column)


class Cancelled(Exception):
    """The user asked to stop; raised between chunks of long work."""
