"""The registry's HTTP API v2, independently of the Docker engine: the tag list (for smart floating tags),
each tag's manifest digest (to prove what was pushed) and a manifest copied under another tag (to move a
floating tag without pulling or pushing an image). Basic or bearer-token auth, as the registry's
``WWW-Authenticate`` asks; TLS verified against the CA docker itself would use.

Used by registry-push (read back, tag lists) and cs-deploy (moving deferred floating tags after a healthy
deploy). ``requests`` is imported lazily.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from tagship import mask

MANIFEST_TYPES = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
])
CERTS_D = "/etc/docker/certs.d"


class RegistryError(Exception):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def ca_for(host: str, ca_cert: str = "", insecure: bool = False, certs_d: str = CERTS_D) -> Any:
    """What ``requests`` should verify with: False when insecure, the given CA, docker's per-registry CA
    (``/etc/docker/certs.d/<host>/ca.crt``), else the system CAs."""
    if insecure:
        return False
    if ca_cert:
        return ca_cert
    path = os.path.join(certs_d, host, "ca.crt")
    return path if os.path.isfile(path) else True


@dataclass
class RegistryClient:
    host: str
    username: str = ""
    password: str | None = None
    verify: Any = True
    timeout: float = 20.0
    scheme: str = "https"
    allow_http: bool = False     # insecure: a registry that speaks plain HTTP (as dockerd falls back to it)
    _tokens: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        import requests

        self.session = requests.Session()
        if self.password:
            mask.MASKER.register_basic_auth(self.username, self.password)

    @property
    def base(self) -> str:
        host = "registry-1.docker.io" if self.host == "docker.io" else self.host
        return f"{self.scheme}://{host}"

    def _auth(self) -> Any:
        return (self.username, self.password) if self.password is not None else None

    def _token(self, challenge: str, scope: str) -> str:
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        realm = params.pop("realm", "")
        if not realm:
            raise RegistryError(f"{self.host}: bearer challenge without a realm")
        query = {"scope": scope}
        if params.get("service"):
            query["service"] = params["service"]
        resp = self.session.get(realm, params=query, auth=self._auth(), verify=self.verify, timeout=self.timeout)
        if resp.status_code != 200:
            raise RegistryError(f"{self.host}: token endpoint answered {resp.status_code}", resp.status_code)
        body = resp.json()
        token = body.get("token") or body.get("access_token") or ""
        mask.register(token)
        return token

    def request(self, method: str, path: str, scope: str, **kw: Any):
        """One request with auth (see ``_request``); an insecure registry that does not speak TLS is asked
        again over plain HTTP, as dockerd does for an insecure registry."""
        import requests

        try:
            return self._request(method, path, scope, **kw)
        except (requests.exceptions.SSLError, requests.exceptions.ConnectionError):
            if not self.allow_http or self.scheme == "http":
                raise
            self.scheme = "http"
            return self._request(method, path, scope, **kw)

    def _request(self, method: str, path: str, scope: str, **kw: Any):
        """One request with auth: first with what we have, then answering the 401 challenge once."""
        headers = kw.pop("headers", {})
        token = self._tokens.get(scope)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        auth = None if token else self._auth()
        resp = self.session.request(method, self.base + path, headers=headers, auth=auth, verify=self.verify,
                                    timeout=self.timeout, **kw)
        if resp.status_code == 401:
            challenge = resp.headers.get("WWW-Authenticate", "")
            if challenge.lower().startswith("bearer"):
                self._tokens[scope] = self._token(challenge, scope)
                headers["Authorization"] = f"Bearer {self._tokens[scope]}"
                resp = self.session.request(method, self.base + path, headers=headers, verify=self.verify,
                                            timeout=self.timeout, **kw)
        return resp

    def tags(self, path: str) -> list[str]:
        """Every tag of ``path`` (follows ``Link`` pagination); [] when the repository does not exist yet."""
        out: list[str] = []
        url = f"/v2/{path}/tags/list?n=1000"
        while url:
            resp = self.request("GET", url, f"repository:{path}:pull")
            if resp.status_code == 404:
                return out
            if resp.status_code != 200:
                raise RegistryError(f"GET {self.host}/v2/{path}/tags/list answered {resp.status_code}",
                                    resp.status_code)
            out += resp.json().get("tags") or []
            link = resp.headers.get("Link", "")
            m = re.match(r'<([^>]+)>', link)
            url = m.group(1).replace(self.base, "") if m else ""
        return out

    def digest(self, path: str, tag: str) -> str:
        """The manifest digest the registry serves for ``path:tag`` (``Docker-Content-Digest``)."""
        resp = self.request("HEAD", f"/v2/{path}/manifests/{tag}", f"repository:{path}:pull",
                            headers={"Accept": MANIFEST_TYPES})
        if resp.status_code == 405 or (resp.status_code == 200 and "Docker-Content-Digest" not in resp.headers):
            resp = self.request("GET", f"/v2/{path}/manifests/{tag}", f"repository:{path}:pull",
                                headers={"Accept": MANIFEST_TYPES})
            if resp.status_code == 200 and "Docker-Content-Digest" not in resp.headers:
                import hashlib

                return "sha256:" + hashlib.sha256(resp.content).hexdigest()
        if resp.status_code != 200:
            raise RegistryError(f"{self.host}/{path}:{tag}: manifest answered {resp.status_code}",
                                resp.status_code)
        return resp.headers["Docker-Content-Digest"]

    def put_tag(self, path: str, digest: str, tag: str) -> str:
        """Point ``path:tag`` at the manifest ``digest`` of the same repository: GET the manifest by digest
        (its bytes and media type as stored), PUT the same bytes with the same ``Content-Type`` under
        ``tag``, and check the registry's ``Docker-Content-Digest`` is ``digest``. Returns the digest."""
        scope = f"repository:{path}:pull,push"
        resp = self.request("GET", f"/v2/{path}/manifests/{digest}", scope, headers={"Accept": MANIFEST_TYPES})
        if resp.status_code != 200:
            raise RegistryError(f"{self.host}/{path}@{digest}: manifest answered {resp.status_code}",
                                resp.status_code)
        media = resp.headers.get("Content-Type", "").split(";")[0].strip()
        if not media:
            raise RegistryError(f"{self.host}/{path}@{digest}: the manifest came without a Content-Type")
        body = resp.content
        put = self.request("PUT", f"/v2/{path}/manifests/{tag}", scope, headers={"Content-Type": media},
                           data=body)
        if put.status_code not in (200, 201):
            raise RegistryError(f"PUT {self.host}/{path}:{tag} answered {put.status_code}: "
                                f"{mask.mask(put.text[:200])}", put.status_code)
        got = put.headers.get("Docker-Content-Digest", "")
        if got and got != digest:
            raise RegistryError(f"PUT {self.host}/{path}:{tag}: the registry stored {got}, not {digest}")
        return digest


def transient(exc: BaseException) -> bool:
    """Worth another try: 5xx/429 from the registry, or a connection error."""
    if isinstance(exc, RegistryError):
        return exc.status is not None and (exc.status >= 500 or exc.status == 429)
    import requests

    return isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout))
