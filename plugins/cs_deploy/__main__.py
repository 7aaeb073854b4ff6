"""Entry point: ``cs-deploy`` / ``python -m cs_deploy``."""

from __future__ import annotations

import sys

from tagship.runtime import run_plugin

from .settings import Settings


def _run(settings, run):
    from .deploy import deploy  # docker/requests/yaml are imported there, not for --help

    return deploy(settings, run)


def main(argv=None) -> int:
    return run_plugin("cs-deploy", "deploy a compose stack to Docker swarm or Aliyun Container Service, "
                      "wait until it is really up, roll back when it is not", Settings, _run, argv)


if __name__ == "__main__":
    sys.exit(main())
