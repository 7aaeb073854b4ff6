"""Entry point (placeholder until the plugin lands)."""

import sys


def main() -> int:
    print("cs-deploy: not implemented yet", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
