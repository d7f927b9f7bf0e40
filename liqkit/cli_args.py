"""Checks of the command line's arguments, made by argparse before anything starts.

Each is an argparse ``type=``: a bad value stops the command with one line naming the flag, the value
and the fix (``liqkit serve: error: argument --port: 99999: ...``), exit status 2, before a port is
bound, a directory created or a market started. ``LiqkitParser`` keeps argparse's own errors to that
one line too (no usage block in front of it).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from liqkit.domain.errors import LiqkitError

MAX_SPEED = 1000.0  # past this the simulated market makes events faster than anything reads them


class LiqkitParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line on stderr (and a pointer to ``--help``), status 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``prog: error: message (see prog --help)`` and exit 2."""
        sys.stderr.write(f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")
        sys.exit(2)


class InOrder(argparse.Action):
    """Collect several flags into one list of (flag, value), in the order given on the command line."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object, option: str | None = None
    ) -> None:
        got = list(getattr(namespace, self.dest, None) or [])
        got.append((option or "", str(values)))
        setattr(namespace, self.dest, got)


def port(text: str) -> int:
    """A TCP port: a whole number from 1 to 65535, or 0 for any free one."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: give a whole number from 1 to 65535") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(
            f"{value} is not a port: give a whole number from 1 to 65535 (0: any free one)"
        )
    return value


def _finite(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number: give {what}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number: give {what}")
    return value


def speed(text: str) -> float:
    """A market speed: finite, above 0 and at most ``MAX_SPEED`` (1 is real time, 10 ten times faster)."""
    hint = f"a speed above 0 and at most {MAX_SPEED:g}, e.g. 1 (real time) or 10 (ten times faster)"
    value = _finite(text, hint)
    if not 0 < value <= MAX_SPEED:
        raise argparse.ArgumentTypeError(f"{text}: give {hint}")
    return value


def seconds(text: str) -> float:
    """A duration in seconds: finite and not negative (0 where the flag documents it as "no limit")."""
    hint = "a number of seconds, 0 or more"
    value = _finite(text, hint)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text}: give {hint}")
    return value


def positive_seconds(text: str) -> float:
    """A period in seconds: finite and above 0."""
    hint = "a number of seconds above 0"
    value = _finite(text, hint)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text}: give {hint}")
    return value


def positive_number(text: str) -> float:
    """A number above 0 (finite)."""
    hint = "a number above 0, e.g. 3"
    value = _finite(text, hint)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text}: give {hint}")
    return value


def positive_ms(text: str) -> float:
    """A delay in milliseconds: finite and above 0."""
    hint = "a number of milliseconds above 0, e.g. 5"
    value = _finite(text, hint)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text}: give {hint}")
    return value


def seed(text: str) -> int:
    """A seed: a whole number, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a seed: give a whole number, 0 or more") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value}: give a whole number, 0 or more")
    return value


def folder(text: str) -> Path:
    """A folder: one that exists, or a path no file stands in the way of (a state directory to create;
    for ``status``, one where no service runs yet)."""
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a directory: give a folder")
    for parent in path.absolute().parents:  # the nearest existing ancestor must be a folder
        if parent.exists():
            if not parent.is_dir():
                raise argparse.ArgumentTypeError(f"{text}: {parent} is a file, not a directory: give another folder")
            break
    return path


def state_dir(text: str) -> Path:
    """A state directory to write: an existing writable folder, or one that can be created there."""
    path = folder(text)
    target = path if path.exists() else next(p for p in path.absolute().parents if p.exists())
    if not os.access(target, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text}: {target} is not writable: give a folder you can write to")
    return path


VENUES = ("sim", "binance-testnet", "binance-demo", "binance-live")


def venue(text: str) -> str:
    """A venue: sim, binance-testnet, binance-demo, binance-live, or the URL of a Binance-compatible server."""
    if text in VENUES or text.startswith(("http://", "https://")):
        return text
    raise argparse.ArgumentTypeError(
        f"{text!r}: use sim, binance-testnet, binance-demo, binance-live or a server URL (http://127.0.0.1:PORT)"
    )


def venue_override(venue: str) -> dict[str, Any]:
    """The ``[engine]`` settings a ``--venue`` stands for: a venue's name, or a server's URL (a liqkit
    sim-server or any Binance-compatible server, spoken to as the testnet is)."""
    if venue in VENUES:
        return {"venue": venue}
    if venue.startswith(("http://", "https://")):
        return {"venue": "binance-testnet", "base_url": venue}
    raise LiqkitError(f"--venue {venue!r}: use {', '.join(VENUES)} or a server URL (http://127.0.0.1:PORT)")
