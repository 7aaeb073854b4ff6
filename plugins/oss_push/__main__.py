"""Entry point: ``oss-push`` / ``python -m oss_push``."""

import sys

from tagship.runtime import run_plugin

from .settings import Settings


def _run(settings, run):
    from .push import push  # oss2 and friends load here, not for --help or bad settings

    return push(settings, run)


def main(argv=None) -> int:
    return run_plugin("oss-push", "publish static files to Aliyun OSS: incremental, verified, atomic",
                      Settings, _run, argv)


if __name__ == "__main__":
    sys.exit(main())
