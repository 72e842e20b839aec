"""Work budgets of the file readers: how much a file may make us allocate, nest and format.

Every reader in :mod:`cliff.io` (and the JSON readers of boxes and keypoints) checks sizes
against a :class:`Budget` *before* it allocates, so a small hostile file is refused quickly
with a :class:`BudgetError` (a ``ValueError``) instead of asking for gigabytes:

* **materialised bytes** (arrays built from one file, summed): at most
  ``bytes_per_file_byte * file size + min_bytes`` (4 x the file + 256 MiB by default), or
  exactly ``max_bytes`` when the user sets it. A valid file never needs more than about
  twice its size (bfloat16 is returned as float32; a sparse matrix is densified).
* **pickle objects**: at most ``max_objects`` containers/values created by one pickle.
* **nesting depth** of pickled or JSON containers: at most ``max_depth``.
* **JSON numbers**: at most ``max_number_chars`` characters (no 400-digit integers).

Raise a budget for one block of code (thread- and task-local, nothing global changes)::

    from cliff.io.budget import limits
    with limits(max_bytes=64 << 30):          # this checkpoint really is 40 GB of views
        sd = cliff.io.load_checkpoint(path)

When the user raises ``max_bytes`` and the machine cannot provide it, ``MemoryError`` is the
honest answer and is let through; with the default budget it never is.

Error messages describe file content with :func:`describe`, which never builds the ``repr``
of an attacker-controlled object (a few KB of memo-shared nested lists have a repr of
~10^12 characters).
"""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import json
import os
from typing import Any, Iterator, Optional

__all__ = ["Budget", "BudgetError", "get_budget", "limits", "describe", "Meter", "load_json"]


class BudgetError(ValueError):
    """A file asked for more than its budget (bytes, objects, nesting). A ``ValueError``:
    callers that catch "bad file" catch it too. The message says which budget and how to
    raise it."""


@dataclasses.dataclass(frozen=True)
class Budget:
    """Per-file limits of the readers (see the module docstring). Immutable; use
    :func:`limits` to run code under a changed budget."""

    bytes_per_file_byte: float = 4.0
    min_bytes: int = 256 << 20
    max_bytes: Optional[int] = None
    max_objects: int = 4_000_000
    max_depth: int = 64
    max_number_chars: int = 64

    def byte_limit(self, file_size: int) -> int:
        """Bytes that arrays materialised from a file of ``file_size`` bytes may take."""
        if self.max_bytes is not None:
            return int(self.max_bytes)
        return int(self.bytes_per_file_byte * max(int(file_size), 0)) + int(self.min_bytes)

    @property
    def user_raised(self) -> bool:
        """True when the user set ``max_bytes`` (then MemoryError may escape)."""
        return self.max_bytes is not None


_DEFAULT = Budget()
_CURRENT: "contextvars.ContextVar[Budget]" = contextvars.ContextVar("cliff_io_budget",
                                                                    default=_DEFAULT)


def get_budget() -> Budget:
    """The budget in force in this thread / task."""
    return _CURRENT.get()


@contextlib.contextmanager
def limits(**changes: Any) -> Iterator[Budget]:
    """Run a block with some budget fields changed (``max_bytes``, ``bytes_per_file_byte``,
    ``min_bytes``, ``max_objects``, ``max_depth``, ``max_number_chars``). Raises TypeError
    for unknown names or non-integer values, ValueError for negative ones."""
    fields = {f.name for f in dataclasses.fields(Budget)}
    for k, v in changes.items():
        if k not in fields:
            raise TypeError(f"limits: unknown budget {k!r}; expected one of {sorted(fields)}")
        if k == "max_bytes" and v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TypeError(f"limits: {k} must be a number, got {type(v).__name__}")
        if not v >= 0:
            raise ValueError(f"limits: {k} must be >= 0, got {v}")
    token = _CURRENT.set(dataclasses.replace(_CURRENT.get(), **changes))
    try:
        yield _CURRENT.get()
    finally:
        _CURRENT.reset(token)


def describe(obj: Any, limit: int = 60) -> str:
    """A short description of a value read from a file, in O(limit) time whatever it is:
    the repr of small atoms (cut to ``limit`` characters), else the type name and length.
    Never calls ``repr`` on a container or a foreign object."""
    if obj is None or isinstance(obj, (bool, float)):
        return repr(obj)
    if isinstance(obj, int):
        if obj.bit_length() > 64:
            return f"an integer of {obj.bit_length()} bits"
        return repr(obj)
    if isinstance(obj, (str, bytes, bytearray)):
        r = repr(obj[: limit + 1])
        return r if len(obj) <= limit else r[: limit] + f"... ({len(obj)} long)"
    name = type(obj).__name__
    if isinstance(obj, (list, tuple, dict, set, frozenset)):
        return f"a {name} of {len(obj)} items"
    return f"a {name}"


class Meter:
    """Counts the bytes materialised from one file against the budget in force.

    ``charge(nbytes, what)`` raises :class:`BudgetError` (before anything is allocated)
    when the running total would exceed ``Budget.byte_limit(file_size)``."""

    def __init__(self, path: Any, file_size: int, budget: Optional[Budget] = None) -> None:
        self.path = os.fspath(path) if isinstance(path, (str, bytes, os.PathLike)) else str(path)
        self.budget = budget or get_budget()
        self.limit = self.budget.byte_limit(file_size)
        self.file_size = int(file_size)
        self.used = 0

    def charge(self, nbytes: int, what: str) -> None:
        nbytes = int(nbytes)
        if nbytes < 0 or self.used + nbytes > self.limit:
            raise BudgetError(
                f"{self.path}: {what} is implausibly large: it needs {nbytes} bytes, beyond "
                f"this file's budget of "
                f"{self.limit} bytes for {self.file_size} bytes of file ({self.used} already "
                "used); a hostile or corrupt file? If the file is genuine, raise the budget "
                "with `with cliff.io.budget.limits(max_bytes=...)`")
        self.used += nbytes


def _json_int(s: str) -> int:
    if len(s) > get_budget().max_number_chars:
        raise BudgetError(f"a JSON number of {len(s)} digits (at most "
                          f"{get_budget().max_number_chars})")
    return int(s)


def _json_float(s: str) -> float:
    if len(s) > get_budget().max_number_chars:
        raise BudgetError(f"a JSON number of {len(s)} characters (at most "
                          f"{get_budget().max_number_chars})")
    return float(s)  # 1e999 -> inf: the readers' finiteness checks refuse it


def json_depth(obj: Any) -> int:
    """Nesting depth of a decoded JSON value (iterative; JSON values are trees)."""
    depth, stack = 0, [(obj, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            depth = max(depth, d)
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            depth = max(depth, d)
            stack.extend((x, d + 1) for x in v)
    return depth


def load_json(path: Any, what: str) -> Any:
    """Decode a JSON file under the budget: numbers of at most ``max_number_chars``
    characters, containers nested at most ``max_depth`` deep, UTF-8 text. Raises
    FileNotFoundError / OSError (``what`` and the path named) for unreadable files and
    ValueError for anything that is not such JSON."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise OSError(f"{what}: cannot read {path!r} ({exc.strerror or exc})") from None
    try:
        data = json.loads(raw.decode("utf-8"), parse_int=_json_int, parse_float=_json_float)
    except BudgetError as exc:
        raise BudgetError(f"{what}: {path!r}: {exc}") from None
    except RecursionError:
        raise BudgetError(f"{what}: {path!r}: JSON nested too deeply (at most "
                          f"{get_budget().max_depth} levels)") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise ValueError(f"{what}: {path!r} is not valid JSON ({str(exc)[:200]})") from None
    if json_depth(data) > get_budget().max_depth:
        raise BudgetError(f"{what}: {path!r}: JSON nested too deeply (at most "
                          f"{get_budget().max_depth} levels)")
    return data


#: Exceptions a reader's internals may raise on malformed input; :func:`guarded` reports
#: them as ValueError naming the file (they mean "this file is malformed", never a bug in
#: the caller's arguments, which are checked before the file is opened).
_INTERNAL = (TypeError, AttributeError, KeyError, IndexError, OverflowError, LookupError,
             ArithmeticError, UnicodeError, RecursionError, EOFError, AssertionError)


def guarded(path: Any, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run the reader ``fn(*args, **kwargs)`` for the file ``path`` so that only documented
    exceptions leave it: OSError (cannot open), ValueError (incl. UnsafePickleError and
    BudgetError), and MemoryError only when the user raised ``max_bytes``. Any other
    exception from malformed content becomes a ValueError naming the file and ``what`` was
    expected."""
    try:
        return fn(*args, **kwargs)
    except (OSError, ValueError):
        raise
    except MemoryError:
        if get_budget().user_raised:
            raise
        raise BudgetError(f"{os.fspath(path)!s}: reading it needs more memory than this "
                          "machine has (a hostile or corrupt file?)") from None
    except RecursionError:
        raise BudgetError(f"{os.fspath(path)!s}: nested too deeply; expected {what}") from None
    except _INTERNAL as exc:
        raise ValueError(f"{os.fspath(path)!s}: malformed file ({type(exc).__name__}: "
                         f"{str(exc)[:200]}); expected {what}") from None
