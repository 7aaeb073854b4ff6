#!/usr/bin/env python3
"""A stand-in for Django's manage.py, enough for the pipeline: ``collectstatic --noinput`` copies every app's
``static/`` into ``STATIC_ROOT`` = ``static_root/<STATIC_VERSION>`` (settings.py in a real project), the layout
the seed's OSS step publishes. With Django installed, the real ``manage.py`` does the same job."""
import os
import shutil
import sys
from pathlib import Path

BASE = Path(__file__).resolve().parent


def collectstatic() -> int:
    version = os.environ.get("STATIC_VERSION") or "dev"
    root = BASE / "static_root" / version
    count = 0
    for app_static in sorted(BASE.glob("*/static")):
        for src in sorted(p for p in app_static.rglob("*") if p.is_file()):
            dst = root / src.relative_to(app_static)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
            count += 1
    print(f"{count} static files copied to '{root}'.")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["collectstatic"]:
        sys.exit(collectstatic())
    print("usage: manage.py collectstatic --noinput", file=sys.stderr)
    sys.exit(2)
