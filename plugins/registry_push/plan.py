"""Pure decisions for registry-push: where the image goes, which tags, which build args and labels, which
push errors are worth a retry. No I/O here; table-tested in tests/unit/test_registry_push_plan.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Mapping, Sequence

from tagship import versions

PROXY_VARS = ("http_proxy", "https_proxy", "no_proxy", "ftp_proxy", "all_proxy")
SECRET_NAME = re.compile(r"PASS(WORD|WD)?|SECRET|TOKEN|PRIVATE|CREDENTIAL|(^|_)KEY($|_)|ACCESS_?KEY|(^|_)AUTH($|_)",
                         re.IGNORECASE)
DOCKER_HUB = "docker.io"


@dataclass(frozen=True)
class Dest:
    """One push target: ``host/path`` with its credentials."""

    host: str
    path: str
    username: str = ""
    password: str | None = None
    required: bool = True
    insecure: bool = False
    name: str = ""          # how the log names it (the host)

    @property
    def image(self) -> str:
        return f"{self.host}/{self.path}" if self.host != DOCKER_HUB else self.path

    def ref(self, tag: str) -> str:
        return f"{self.image}:{tag}"


def aliyun_host(region: str, network: str = "public", instance_id: str = "") -> str:
    """Aliyun Container Registry host names: personal (``registry[-vpc].<region>.aliyuncs.com``) or an
    Enterprise instance (``<instance>-registry[-vpc].<region>.cr.aliyuncs.com``)."""
    vpc = "-vpc" if network == "vpc" else ""
    if instance_id:
        return f"{instance_id}-registry{vpc}.{region}.cr.aliyuncs.com"
    return f"registry{vpc}.{region}.aliyuncs.com"


def split_repo(repo: str) -> tuple[str, str]:
    """``host/path`` → (host, path); a repo without a host is Docker Hub's (``library/`` for one word)."""
    repo = repo.strip().strip("/")
    first, _, rest = repo.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return DOCKER_HUB, repo if "/" in repo else f"library/{repo}"


def normalize_host(registry: str) -> str:
    host = re.sub(r"^https?://", "", registry.strip()).rstrip("/")
    host = host.removesuffix("/v1").removesuffix("/v2")
    return DOCKER_HUB if host in ("index.docker.io", "registry-1.docker.io", "docker.io") else host


def repo_name(repo: str, project: str, module: str, namespace: str) -> str:
    """The repository path: ``repo`` as given, or the seed's ``[namespace/]<project>_<module>``."""
    if repo:
        return repo
    name = f"{project}_{module}".lower()
    return f"{namespace.strip('/')}/{name}" if namespace else name


def resolve_dest(registry: str, repo: str, *, username: str = "", password: str | None = None,
                 required: bool = True, insecure: bool = False, region: str = "", network: str = "public",
                 instance_id: str = "") -> Dest:
    """Where one target pushes: the repo may carry the host; ``registry`` fills it in when it does not."""
    host = aliyun_host(region, network, instance_id) if registry == "aliyun" else normalize_host(registry)
    rhost, path = split_repo(repo)
    first = repo.strip().strip("/").split("/", 1)[0]
    if rhost != DOCKER_HUB or first in ("docker.io", "index.docker.io"):
        host = rhost                                  # the repo names its host: drone-docker trusts it
    elif host and host != DOCKER_HUB:
        path = repo.strip().strip("/")                # registry + a bare path: no library/ prefix
    else:
        host = DOCKER_HUB
    return Dest(host=host, path=path.lower(), username=username, password=password, required=required,
                insecure=insecure, name=host)


# --- tags ---------------------------------------------------------------------------------------------------

@dataclass
class TagPlan:
    tags: list[str]
    version: str | None = None
    dropped: list[str] = field(default_factory=list)   # floating tags held back (a higher version exists)
    notes: list[str] = field(default_factory=list)
    push: bool = True                                   # False: build only (not a release ref)


def read_tags_file(text: str) -> list[str]:
    return [t.strip() for t in re.split(r"[,\n]", text or "") if t.strip()]


def version_from(ctx_tag: str | None, version_file: str | None) -> str | None:
    """The version being released: ``.version`` (version-bump's output) else the git tag minus one ``v``."""
    if version_file and version_file.strip():
        return version_file.strip()
    if ctx_tag:
        return versions.strip_prefix(ctx_tag, "v")
    return None


def floating_of(version: str | None) -> set[str]:
    """The tags that float for ``version``: latest, X, X.Y (plus the suffix forms are not judged)."""
    out = {"latest"}
    v = versions.try_parse(version) if version else None
    if v is not None:
        out |= {str(v.major), f"{v.major}.{v.minor}"}
    return out


def plan_tags(*, tags: Sequence[str], tags_file: str | None, auto_tag: bool, auto_tag_suffix: str,
              ref: str | None, tag: str | None, branch: str | None, default_branch: str,
              version: str | None, released: Iterable[str], floating: str) -> TagPlan:
    """Which tags to push. ``tags`` else the ``.tags`` file else ``latest``; ``auto_tag`` replaces them with
    drone-docker's rule. With ``floating == "smart"`` a floating tag (latest, X, X.Y) is held back when the
    registry already has a higher released version in its range."""
    released = list(released)
    if auto_tag:
        try:
            auto = versions.auto_tags(ref, tag, default_branch=default_branch, branch=branch,
                                      suffix=auto_tag_suffix, released=released,
                                      floating="smart" if floating == "smart" else "always")
        except versions.VersionError as exc:
            raise ValueError(f"auto_tag: {exc}") from None
        if not auto:
            return TagPlan(tags=[], version=version, push=False,
                           notes=[f"auto_tag: {ref or branch or 'this ref'} is neither a tag nor the default "
                                  f"branch {default_branch!r}; building without pushing"])
        full = versions.auto_tags(ref, tag, default_branch=default_branch, branch=branch,
                                  suffix=auto_tag_suffix, released=(), floating="always")
        return TagPlan(tags=auto, version=version, dropped=[t for t in full if t not in auto])
    chosen = list(tags) or read_tags_file(tags_file or "") or ["latest"]
    chosen = list(dict.fromkeys(chosen))
    bad = [t for t in chosen if not versions.valid_docker_tag(t)]
    if bad:
        raise ValueError(f"not a valid docker tag: {', '.join(bad)} (a tag is [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})")
    plan = TagPlan(tags=chosen, version=version)
    if floating != "smart":
        return plan
    v = versions.try_parse(version) if version else None
    if v is None:
        if "latest" in chosen and released:
            plan.notes.append("floating tags: no SemVer version known (.version or a git tag), so latest is "
                              "moved as asked")
        return plan
    allowed = set(versions.docker_tags(v.text, released, latest="auto", floating="smart"))
    for t in chosen:
        if t in floating_of(v.text) and t not in allowed:
            plan.dropped.append(t)
    if plan.dropped:
        top = versions.highest(released, stable_only=True)
        plan.notes.append(f"floating tags held back: {', '.join(plan.dropped)} (the registry already has "
                          f"{top}, higher than {v.public})")
        plan.tags = [t for t in chosen if t not in plan.dropped]
    return plan


def split_deferred(tags: Sequence[str], floating: set[str], defer: bool) -> tuple[list[str], list[str], str]:
    """``defer_floating``: (tags to push now, floating tags left for cs-deploy, a note). The floating tags
    wait only when at least one fixed tag goes now — its digest is what cs-deploy deploys and promotes."""
    if not defer:
        return list(tags), [], ""
    later = [t for t in tags if t in floating]
    now = [t for t in tags if t not in floating]
    if not later:
        return now, [], ""
    if not now:
        return list(tags), [], (f"defer_floating: {', '.join(later)} are the only tags, so they are pushed now "
                                "(a version tag is needed to deploy by)")
    return now, later, (f"defer_floating: {', '.join(later)} wait for cs-deploy to move them after a healthy "
                        "deploy")


# --- build inputs -------------------------------------------------------------------------------------------

def looks_secret(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def plan_build_args(build_args: Mapping[str, str], from_env: Sequence[str], environ: Mapping[str, str], *,
                    version: str | None, module: str = "") -> tuple[dict[str, str], list[str]]:
    """Build args in order of precedence: the proxy variables (lower and upper case, the seed's tip), then
    ``build_args_from_env``, then ``build_args``; ``VERSION`` from ``.version`` and ``SERVICE_NAME`` from
    ``module`` when not set. Returns (args, names that look secret)."""
    args: dict[str, str] = {}
    for var in PROXY_VARS:
        for name in (var, var.upper()):
            value = environ.get(name) or environ.get(var) or environ.get(var.upper())
            if value:
                args[name] = value
    for name in from_env:
        if name in environ:
            args[name] = environ[name]
    args.update(build_args)
    if version and "VERSION" not in args:
        args["VERSION"] = version
    if module and "SERVICE_NAME" not in args:
        args["SERVICE_NAME"] = module
    secret = [n for n in args if looks_secret(n) and n.lower() not in PROXY_VARS]
    return args, secret


def proxy_secrets(args: Mapping[str, str]) -> list[str]:
    """Passwords inside proxy URLs (http://user:pw@proxy:3128) — masked like any secret."""
    out = []
    for name in PROXY_VARS:
        m = re.match(r"^[a-z][a-z0-9+.-]*://[^:/@]*:([^@/]+)@", args.get(name, ""), re.IGNORECASE)
        if m:
            out.append(m.group(1))
    return out


def oci_labels(*, created: datetime | None, revision: str | None, source: str | None, url: str | None,
               version: str | None, title: str) -> dict[str, str]:
    labels = {"org.opencontainers.image.title": title}
    if created:
        labels["org.opencontainers.image.created"] = created.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    for key, value in (("revision", revision), ("source", source), ("url", url), ("version", version)):
        if value:
            labels[f"org.opencontainers.image.{key}"] = value
    return labels


# --- push errors ------------------------------------------------------------------------------------------

_PERMANENT = re.compile(r"denied|unauthori[sz]ed|\b401\b|\b403\b|forbidden|authentication required|"
                        r"no basic auth credentials|name unknown|manifest invalid|tag invalid|unsupported",
                        re.IGNORECASE)
_TRANSIENT = re.compile(r"\b5\d\d\b|\b429\b|too many requests|toomanyrequests|EOF|timeout|timed out|"
                        r"connection (reset|refused|closed)|broken pipe|blob upload unknown|"
                        r"service unavailable|bad gateway|internal server error|unexpected status|"
                        r"i/o timeout|tls handshake|no such host|temporar", re.IGNORECASE)


def transient_push_error(text: str) -> bool:
    """Worth another try: 5xx, 429, EOF, timeouts, resets, a lost upload; never denied/401/403."""
    if _PERMANENT.search(text or ""):
        return False
    return bool(_TRANSIENT.search(text or ""))
