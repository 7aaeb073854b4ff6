"""One tagship wheel per image, each holding only that image's rooms (scripts/images.sh calls this).

    plugin image  ->  the kit (tagship, without tagship.pipeline) + that plugin's package
    tools image   ->  every room: the kit, tagship.pipeline, tagship_ossd and the plugins (lint and docs read
                      the plugins' settings models)

Each wheel is built from a staging copy with a pyproject made from ours (same name, version, dependencies;
only the packages and console scripts of that image). A wheel whose files did not change is kept, so the
image's layer cache holds. Usage: image_wheels.py WHEELHOUSE IMAGE...
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = {"version-bump": "version_bump", "oss-push": "oss_push", "registry-push": "registry_push",
           "cs-deploy": "cs_deploy"}
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc")


def rooms(image: str) -> tuple[list[str], dict[str, str]]:
    """(packages, console scripts) of one image."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    if image == "tools":
        return (["tagship", "tagship.pipeline", "tagship_ossd", *PLUGINS.values()],
                {"tagship": scripts["tagship"]})
    return ["tagship", PLUGINS[image]], {image: scripts[image]}


def pyproject(packages: list[str], scripts: dict[str, str]) -> str:
    proj = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    q = lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'  # noqa: E731
    lines = ["[build-system]", 'requires = ["setuptools>=77", "wheel"]', 'build-backend = "setuptools.build_meta"',
             "", "[project]", f"name = {q(proj['name'])}", f"version = {q(proj['version'])}",
             f"description = {q(proj['description'])}", f"requires-python = {q(proj['requires-python'])}",
             f"license = {q(proj['license'])}",
             "dependencies = [" + ", ".join(q(d) for d in proj["dependencies"]) + "]", "",
             "[project.scripts]", *(f"{q(k)} = {q(v)}" for k, v in scripts.items()), "",
             "[tool.setuptools]", "packages = [" + ", ".join(q(p) for p in packages) + "]", "",
             "[tool.setuptools.package-data]", '"*" = ["*.json", "*.txt"]', ""]
    return "\n".join(lines)


def stage(image: str, into: Path) -> None:
    packages, scripts = rooms(image)
    kit_ignore = IGNORE if "tagship.pipeline" in packages else shutil.ignore_patterns("__pycache__", "*.pyc",
                                                                                       "pipeline")
    shutil.copytree(ROOT / "shared/tagship", into / "tagship", ignore=kit_ignore)
    if "tagship_ossd" in packages:
        shutil.copytree(ROOT / "shared/tagship_ossd", into / "tagship_ossd", ignore=IGNORE)
    for pkg in PLUGINS.values():
        if pkg in packages:
            shutil.copytree(ROOT / "plugins" / pkg, into / pkg, ignore=IGNORE)
    (into / "pyproject.toml").write_text(pyproject(packages, scripts))


def files(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as z:
        return {n: z.read(n) for n in z.namelist()}


def build(wheelhouse: Path, image: str) -> Path:
    out = wheelhouse / "wheels" / image
    with tempfile.TemporaryDirectory(prefix=f"tagship-wheel-{image}-") as tmp:
        src, dist = Path(tmp) / "src", Path(tmp) / "dist"
        src.mkdir()
        stage(image, src)
        proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check",
                               "--no-deps", "--no-build-isolation", "-w", str(dist), str(src)],
                              capture_output=True, text=True, env=os.environ)
        if proc.returncode != 0:
            sys.exit(f"[images] ERROR: the {image} wheel failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
        new = next(dist.glob("tagship-*.whl"))
        old = next(out.glob("tagship-*.whl"), None) if out.is_dir() else None
        if old is not None and old.name == new.name and files(old) == files(new):
            return old
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        return Path(shutil.copy2(new, out / new.name))


def main(argv: list[str]) -> int:
    wheelhouse, images = Path(argv[0]), argv[1:]
    for image in images:
        print(f"{image}: {build(wheelhouse, image).relative_to(wheelhouse)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
