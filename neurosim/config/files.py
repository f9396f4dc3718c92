"""Comparison files: reading TOML, typed ``--set`` overrides, and the shipped comparisons found
by name."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from neurosim.config.comparison import TOP_KEYS, ComparisonConfig
from neurosim.config.resolution import resolve
from neurosim.errors import UserError, choices_message
from neurosim.options import UnparsedText

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def parse_value(text: str) -> Any:
    """Parse an override value as a TOML value (``3``, ``0.1``, ``[64, 32]``, ``true``). Text that
    is not TOML is kept as :class:`~neurosim.options.UnparsedText`: valid for a key declared a string
    (``--set device=cpu``), an error naming the key for any other."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return UnparsedText(text)


def apply_override(raw: dict[str, Any], assignment: str) -> None:
    """Apply one ``dotted.key=value`` override to a raw comparison table, in place."""
    if "=" not in assignment:
        raise UserError(f"--set expects key=value, got {assignment!r}")
    key, _, text = assignment.partition("=")
    parts = key.strip().split(".")
    if parts[0] not in TOP_KEYS:
        raise UserError(f"unknown key {parts[0]!r} in --set {assignment}; valid keys: {', '.join(TOP_KEYS)}")
    table = raw
    for part in parts[:-1]:
        table = table.setdefault(part, {})
        if not isinstance(table, dict):
            raise UserError(f"--set {assignment}: {part!r} is not a table")
    table[parts[-1]] = parse_value(text.strip())


def load_raw(path: str | Path, what: str = "comparison file") -> dict[str, Any]:
    """Read a TOML file (a comparison, or ``what`` else); every error is one line naming the file
    (syntax errors also the line)."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{str(path)!r} is a folder; give a {what} (.toml) or a shipped name")
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise UserError(f"{what} {str(path)!r} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: not a valid TOML file: {error}") from None
    except OSError as error:
        raise UserError(f"cannot read {what} {str(path)!r}: {error.strerror}") from None


def load(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> ComparisonConfig:
    """Load, override and resolve a comparison file."""
    raw = load_raw(path)
    for assignment in overrides:
        apply_override(raw, assignment)
    return resolve(raw)


def shipped_comparison_dirs() -> list[Path]:
    """Folders searched for comparisons named without a path: ./comparisons, then the repository's."""
    repo = Path(__file__).resolve().parents[2] / "comparisons"
    here = Path.cwd() / "comparisons"
    return [here] if here.resolve() == repo.resolve() else [here, repo]


def find_comparison(name_or_path: str) -> Path:
    """A path as given, or a shipped comparison by name (``quickstart`` -> comparisons/quickstart.toml)."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        return path
    for directory in shipped_comparison_dirs():
        candidate = directory / f"{name_or_path}.toml"
        if candidate.is_file():
            return candidate
    raise UserError(choices_message("comparison", name_or_path, list_comparisons()))


def list_comparisons() -> list[str]:
    """Names of the shipped comparisons."""
    names: set[str] = set()
    for directory in shipped_comparison_dirs():
        if directory.is_dir():
            names.update(p.stem for p in directory.glob("*.toml"))
    return sorted(names)
