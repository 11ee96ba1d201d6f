"""One exception family. Each error carries structured fields (file, key path, what, fix)
and renders its one-line form here; the CLI maps each class to an exit code.

Exit codes: 0 ok, 1 a check failed, 2 bad usage or bad input, 3 an internal error,
4 an outside service (git remote, forge, DVC remote, Prometheus) could not be reached
or refused, 130 interrupted.
"""

from __future__ import annotations

from typing import NamedTuple

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3
EXIT_SERVICE = 4
EXIT_INTERRUPTED = 130


class Where(NamedTuple):
    """Where a problem is: a file (repository-relative or as typed), a line, a key path."""

    file: str | None = None
    key: str | None = None
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = []
        if self.file:
            at = self.file
            if self.line is not None:
                at += f":{self.line}" + (f":{self.column}" if self.column is not None else "")
            parts.append(at)
        if self.key:
            parts.append(self.key)
        return ": ".join(parts)


class ModelregError(Exception):
    """Base of every error modelreg raises on purpose: bad input unless a subclass says."""

    exit_code = EXIT_BAD_INPUT

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        file: str | None = None,
        key: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.what = message
        self.hint = hint
        self.where = Where(file, key, line, column)

    @property
    def message(self) -> str:
        """Where and what, without the fix."""
        where = str(self.where)
        return f"{where}: {self.what}" if where else self.what

    @property
    def fix(self) -> str | None:
        return self.hint

    def within(self, *, file: str | None = None, key: str | None = None) -> ModelregError:
        """The same error placed in `file`, its key path prefixed with `key`."""
        w = self.where
        clone = type(self).__new__(type(self), *self.args)
        clone.__dict__.update(self.__dict__)
        clone.where = Where(
            w.file or file, ".".join(k for k in (key, w.key) if k) or None, w.line, w.column
        )
        return clone

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UsageError(ModelregError):
    """Bad arguments or bad input a user can correct: exit 2."""


class ValidationError(ModelregError):
    """A file is unparsable or does not match its schema: exit 2."""


class NotFound(ModelregError):
    """An unknown model, version, stage, revision or file: exit 2."""


class CheckFailed(ModelregError):
    """A check ran and said no (validate, gate, md5): exit 1."""

    exit_code = EXIT_CHECK_FAILED


class GateFailed(CheckFailed):
    """A policy gate refused a version."""


class ServiceError(ModelregError):
    """An outside service could not be reached or refused; nothing changed, re-run: exit 4."""

    exit_code = EXIT_SERVICE


class ForgeError(ServiceError):
    """A git push or fetch, the forge's API, the DVC remote or Prometheus failed: exit 4."""


class LockTimeout(ModelregError):
    """Another modelreg held the repository's write lock past the timeout: exit 4.

    Exit 4, not 1 or 2: nothing was checked and the user did nothing wrong; like an
    unreachable service it is temporary, nothing changed, and re-running succeeds, so
    retry logic written for exit 4 covers it too.
    """

    exit_code = EXIT_SERVICE


class GitError(ModelregError):
    """A local git command failed where it should not have: an internal error, exit 3."""

    exit_code = EXIT_INTERNAL


class RuleError(ValidationError):
    """A rule of a policy that cannot hold: its file, key path, what is wrong and the fix."""

    def __init__(
        self, key: str, what: str, *, fix: str | None = None, file: str | None = None
    ) -> None:
        super().__init__(what, hint=fix, file=file, key=key)

    @property
    def file(self) -> str | None:
        return self.where.file

    @property
    def key(self) -> str:
        return self.where.key or ""

    def in_file(self, file: str) -> ModelregError:
        """The same error, naming the file it was found in."""
        return self.within(file=file)


def plural(n: int, noun: str, many: str | None = None) -> str:
    """'1 file', '3 files', '1,204 rows': a count with its noun in the right number."""
    return f"{n:,} {noun if n == 1 else many or noun + 's'}"
