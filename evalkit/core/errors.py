"""Errors a user can fix, and the process exit codes.

An `EvalkitError` is printed as one line (where, what, hint) with no traceback. Anything else
that escapes is a bug in evalkit and keeps its traceback.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # the run completed and every gate passed
    GATE_FAILED = 1  # at least one gate failed
    BAD_INPUT = 2  # the suite, a data file or a command-line argument is wrong
    INCOMPLETE = 3  # more samples errored than the error limit allows, or the run could not finish
    INTERRUPTED = 130  # SIGINT (Ctrl-C)
    TERMINATED = 143  # SIGTERM (a cancelled CI job, `timeout`)


class EvalkitError(Exception):
    """A problem with the user's input: printed as `where: what (hint)`."""

    exit_code = ExitCode.BAD_INPUT

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text += f" (hint: {self.hint})"
        return text


class RunStopped(Exception):
    """A run that stopped before its end: interrupted by a signal, or its folder could not be written.
    What it finished is in its folder, with a summary that says it is incomplete."""

    def __init__(self, reason: str, folder: object, kept: int, expected: int,
                 exit_code: ExitCode = ExitCode.INCOMPLETE, resumable: bool = False, summarized: bool = True):
        super().__init__(reason)
        self.reason, self.folder, self.kept, self.expected, self.exit_code = reason, folder, kept, expected, exit_code
        self.resumable, self.summarized = resumable, summarized

    @property
    def kept_note(self) -> str:
        then = "; continue it with --resume" if self.resumable else ""
        said = "its summary.json says the run is incomplete" if self.summarized else "no summary.json was written"
        return f"{self.kept} of {self.expected} samples finished and are kept in {self.folder}/ ({said}{then})"

    def __str__(self) -> str:
        return f"{self.reason}: {self.kept_note}"


def closest(word: str, choices: list[str] | tuple[str, ...] | set[str]) -> str | None:
    """The one of `choices` a misspelt `word` most likely meant, or None."""
    import difflib

    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: str, choices: list[str] | tuple[str, ...] | set[str]) -> str | None:
    """The closest of `choices` to a misspelt `word`, phrased as a hint, or None."""
    meant = closest(word, choices)
    return f"did you mean '{meant}'?" if meant else None


def short_error(exc: BaseException, limit: int = 300) -> str:
    """`Type: message`, first line only and bounded: some libraries put whole transcripts in messages."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = f"{type(exc).__name__}: {lines[0] if lines else ''}"
    return text if len(text) <= limit else text[: limit - 1] + "…"
