"""``tagship``: the umbrella for developer tools (oss-server, exec, lint, docs).

Each tool lives in its own module with ``main(argv) -> int``; it is imported only when asked for.
"""

from __future__ import annotations

import importlib
import sys
from typing import Sequence

TOOLS = {
    "oss-server": ("tagship_ossd.server", "a local Aliyun OSS endpoint for tests, benchmarks and the demo"),
    "exec": ("tagship.pipeline.runner", "run a .drone.yml's steps locally on the Docker engine"),
    "lint": ("tagship.pipeline.lint", "check a .drone.yml's tagship steps against the settings models"),
    "docs": ("tagship.pipeline.docs", "generate per-plugin docs (docs.md, content.yaml) from the settings models"),
}


def usage() -> str:
    lines = ["usage: tagship <tool> [args]", "", "tools:"]
    lines += [f"  {name:<11} {text}" for name, (_, text) in TOOLS.items()]
    lines += ["", "The plugins themselves are commands of their own: version-bump, oss-push, registry-push, "
              "cs-deploy."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if argv[0] == "--version":
        from .. import __version__

        print(f"tagship {__version__}")
        return 0
    tool = TOOLS.get(argv[0])
    if tool is None:
        print(f"tagship: unknown tool {argv[0]!r}\n\n{usage()}", file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(tool[0])
    except ModuleNotFoundError as exc:
        print(f"tagship {argv[0]}: not available in this installation ({exc.name} is missing; "
              f"install tagship[tools])", file=sys.stderr)
        return 2
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
