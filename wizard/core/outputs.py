"""Files the app writes for the user (exports, split request bodies, audit and browser
exports): they never destroy anything.

- The store and its companions are never an output, nor is anything that is not a regular file
  (a folder, a link, a pipe, a device).
- An existing file is replaced only when asked (``force``: the CLI's ``--force``; the window
  asks first).
- The new content goes to a temporary file beside the target, created exclusively and for the
  owner only (never following a link, never truncating anything), then takes the target's
  name in one rename;
  a killed writer leaves only its temporary file, which the next write into that folder
  removes.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, TextIO

TEMP_MARK = ".agentmemory-wizard-partial-"
STORE_COMPANIONS = ("", "-wal", "-shm", "-journal", ".lock-info")


class OutputRefused(ValueError):
    """The output path cannot be written; the message says why and what to do."""


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def protected_paths(store: str | os.PathLike[str] | None) -> list[Path]:
    """The store file and its companions: never an output."""
    if store is None:
        return []
    base = Path(store)
    return [Path(f"{base}{suffix}") for suffix in STORE_COMPANIONS]


def check_output(
    path: str | os.PathLike[str], *, protected: Iterable[Path] = (), force: bool = False
) -> Path:
    """``path`` as an output, or OutputRefused saying why it cannot be one."""
    target = Path(path)
    for p in protected:
        if _same(target, p) or os.path.abspath(target) == os.path.abspath(p):
            raise OutputRefused(f"{target} is the store (or one of its files): choose another file")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise OutputRefused(f"cannot write {target}: the folder {folder} does not exist")
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return target
    except OSError as exc:
        raise OutputRefused(f"cannot write {target}: {exc.strerror or exc}") from None
    if stat.S_ISLNK(st.st_mode):
        raise OutputRefused(f"{target} is a link: choose the file itself, or another name")
    if not stat.S_ISREG(st.st_mode):
        raise OutputRefused(f"{target} is not a regular file: choose another name")
    if not force:
        raise OutputRefused(f"{target} exists: replace it with --force, or choose another name")
    return target


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def sweep_partials(folder: Path) -> None:
    """Remove what killed writers left in ``folder`` (their process no longer runs)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if TEMP_MARK not in entry.name:
            continue
        try:
            pid = int(entry.name.rsplit("-", 2)[-2])
        except (ValueError, IndexError):
            continue
        if pid != os.getpid() and not _pid_alive(pid) and entry.is_file(follow_symlinks=False):
            try:
                os.unlink(entry.path)
            except OSError:
                continue


def _temp_for(target: Path) -> tuple[int, Path]:
    folder = target.parent if str(target.parent) else Path(".")
    for n in range(100):
        temp = folder / f".{target.name}{TEMP_MARK}{os.getpid()}-{n}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            return os.open(temp, flags, 0o600), temp
        except FileExistsError:
            continue
    raise OutputRefused(f"cannot write beside {target}: too many partial files there")


def write_atomic(
    path: str | os.PathLike[str],
    write: Callable[[IO[bytes]], object],
    *,
    protected: Iterable[Path] = (),
    force: bool = False,
) -> Path:
    """Write ``path`` through ``write(binary_file)`` as described in the module docstring.
    Raises OutputRefused, or OSError when writing fails (nothing is left then)."""
    with _atomic(path, "wb", protected, force) as (f, target):
        write(f)
    return target


@contextlib.contextmanager
def atomic_text(
    path: str | os.PathLike[str], *, protected: Iterable[Path] = (), force: bool = False
) -> Iterator[TextIO]:
    """``write_atomic`` for a writer that streams text: the block writes into the temporary
    file, which takes ``path``'s name when the block ends without an error."""
    with _atomic(path, "w", protected, force) as (out, _target):
        yield out


@contextlib.contextmanager
def _atomic(
    path: str | os.PathLike[str], mode: str, protected: Iterable[Path], force: bool
) -> Iterator[tuple[Any, Path]]:
    protected = list(protected)
    target = check_output(path, protected=protected, force=force)
    sweep_partials(target.parent if str(target.parent) else Path("."))
    fd, temp = _temp_for(target)
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f, target
            f.flush()
            os.fsync(f.fileno())
        check_output(target, protected=protected, force=force)  # nothing appeared meanwhile
        os.replace(temp, target)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


def write_text_atomic(
    path: str | os.PathLike[str],
    text: str,
    *,
    protected: Iterable[Path] = (),
    force: bool = False,
) -> Path:
    return write_atomic(
        path, lambda f: f.write(text.encode("utf-8")), protected=protected, force=force
    )
