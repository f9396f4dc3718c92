"""The one exception type for mistakes a user can fix (bad names, keys, values, missing data).

The CLI prints these as one line, without a traceback; everything else is a bug and keeps its
traceback. It subclasses ``ValueError`` so library callers can catch it the usual way.
"""


class UserError(ValueError):
    """A mistake in the user's input: an unknown name, a bad config key or value, missing data."""


def choices_message(kind: str, name: object, valid: list[str] | tuple[str, ...]) -> str:
    """Format 'unknown <kind> <name>; valid choices: a, b, c'."""
    listed = ", ".join(valid) if valid else "(none)"
    return f"unknown {kind} {name!r}; valid choices: {listed}"
