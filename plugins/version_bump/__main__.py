"""Entry point (placeholder until the plugin lands)."""

import sys


def main() -> int:
    print("version-bump: not implemented yet", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
