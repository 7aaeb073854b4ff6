"""The Aliyun preset's login: an AccessKey exchanged for a temporary Container Registry login through the
Container Registry API (personal edition: ROA ``GET /tokens``; Enterprise, with ``instance_id``: RPC
``GetAuthorizationToken``). The kit does the work (``tagship.aliyun.cr_login``); the token is masked there.
"""

from __future__ import annotations

from typing import Any


def exchange(s: Any) -> tuple[str, str]:
    """(username, password) for ``docker login`` to the preset's registry."""
    from tagship import aliyun

    if not s.access_key_secret:
        from tagship.errors import SettingsError

        raise SettingsError("PLUGIN_ACCESS_KEY_SECRET: required with access_key_id for registry: aliyun")
    client = aliyun.openapi_client(s.access_key_id, s.access_key_secret, s.region)
    return aliyun.cr_login(client, region=s.region, instance_id=s.instance_id or None,
                           api_endpoint=s.api_endpoint or None)
