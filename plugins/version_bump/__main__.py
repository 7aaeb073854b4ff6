"""version-bump: the version of every release, checked, and the docker tags that follow from it."""

from __future__ import annotations

import sys

from tagship.runtime import run_plugin

from .settings import Settings


def _run(settings, run):
    from .bump import run_bump

    return run_bump(settings, run)


def main(argv=None) -> int:
    return run_plugin("version-bump", "the release version from the tag or the commits, checked to increase, "
                      "and the docker tags that follow from it", Settings, _run, argv)


if __name__ == "__main__":
    sys.exit(main())
