"""Entry point (placeholder until the plugin lands)."""

import sys


def main() -> int:
    print("oss-push: not implemented yet", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
