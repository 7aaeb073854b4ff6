"""registry-push: build the image once, push it to every target with retries, prove the digest."""

import sys

from tagship.runtime import run_plugin

from .settings import Settings


def _run(settings, run):
    from .run import run as registry_push   # docker/requests are imported only when a run starts

    return registry_push(settings, run)


def main(argv=None) -> int:
    return run_plugin("registry-push", "build a Docker image once, push it to every registry, verify the digest",
                      Settings, _run, argv)


if __name__ == "__main__":
    sys.exit(main())
