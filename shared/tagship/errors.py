"""The exceptions that decide a plugin's exit code (see design.md, runtime contract)."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_SKIP = 78


class TagshipError(Exception):
    """Base of the errors the entry wrapper turns into exit codes."""

    exit_code = EXIT_FAILED


class SettingsError(TagshipError):
    """Bad settings or usage: exit 2, one line per problem, each naming the env var."""

    exit_code = EXIT_USAGE

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


class PluginError(TagshipError):
    """The operation failed (after retries); ``hint`` tells the user what to do about it."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(message)


class SkipRest(TagshipError):
    """Nothing to do: exit 78, which tells Drone to skip the remaining steps (opt-in only)."""

    exit_code = EXIT_SKIP
