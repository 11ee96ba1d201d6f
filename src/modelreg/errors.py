"""One exception family; the CLI maps each class to an exit code and one line."""

from __future__ import annotations


class ModelregError(Exception):
    """Base of every error modelreg raises on purpose."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class UsageError(ModelregError):
    """Bad arguments or bad input a user can correct: exit 2."""


class ValidationError(ModelregError):
    """A file is unparsable or does not match its schema: exit 2."""


class NotFound(ModelregError):
    """An unknown model, version, stage, revision or file: exit 2."""


class CheckFailed(ModelregError):
    """A check ran and said no (validate, gate, md5): exit 1."""

    exit_code = 1


class GateFailed(CheckFailed):
    """A policy gate refused a version."""


class ForgeError(ModelregError):
    """Git push or the forge's API failed; re-running completes the job: exit 1."""

    exit_code = 1


class GitError(ModelregError):
    """A git command failed unexpectedly."""

    exit_code = 1


class RuleError(ValidationError):
    """A rule of a policy that cannot hold: its file, key path, what is wrong and the fix."""

    def __init__(
        self, key: str, what: str, *, fix: str | None = None, file: str | None = None
    ) -> None:
        super().__init__(f"{file or 'policy'}: {key}: {what}", hint=fix)
        self.file = file
        self.key = key
        self.what = what
        self.fix = fix

    def in_file(self, file: str) -> RuleError:
        """The same error, naming the file it was found in."""
        return RuleError(self.key, self.what, fix=self.fix, file=file)
