"""cs-deploy compose lint: the seed's pitfalls, each a finding naming the service and key; clean files pass."""

from __future__ import annotations

import pytest

from cs_deploy.lint import lint

CLEAN = {"services": {"web": {"image": "reg/app:1.0", "environment": {"DB_PASSWORD": "${DB_PASSWORD}"},
                              "entrypoint": ["/home/worker/main/entrypoint.sh"], "volumes": ["logs:/data/log"],
                              "labels": {"aliyun.scale": "2"}}}}


def test_clean_file_has_no_findings():
    assert lint(CLEAN, CLEAN, production=False) == []


@pytest.mark.parametrize("service, production, expected", [
    ({"image": "a:1", "links": [f"s{i}" for i in range(6)]}, False, "services.web.links: 6 links"),
    ({"image": "a:1", "entrypoint": "/home/worker/main/entrypoint.sh run",
      "volumes": ["./code:/home/worker/main"]}, False, "services.web.entrypoint: /home/worker/main/entrypoint.sh"),
    ({"image": "a:1", "entrypoint": ["/app/start"], "volumes": [{"type": "bind", "source": "/x", "target": "/app"}]},
     False, "inside the volume mounted at /app"),
    ({"image": "a:1", "labels": ["aliyun.routing.port_80=web"]}, True, "services.web.labels: aliyun.routing.port_80"),
    ({"image": "a:1", "deploy": {"labels": {"aliyun.scale": "2"}}}, True, "aliyun.scale"),
    ({"image": "a:1", "environment": ["PGCRYPTO_DEFAULT_KEY=hunter2"]}, False,
     "services.web.environment.PGCRYPTO_DEFAULT_KEY"),
    ({"image": "a:latest"}, False, "services.web.image: a:latest is a floating tag"),
    ({"image": "a"}, False, "floating"),
])
def test_each_pitfall_is_found(service, production, expected):
    doc = {"services": {"web": service}}
    findings = lint(doc, doc, production)
    assert any(expected in f for f in findings), findings
    assert "hunter2" not in "\n".join(findings)


def test_few_links_and_entrypoint_outside_mounts_are_fine():
    doc = {"services": {"web": {"image": "a:1", "links": ["db", "cache"], "entrypoint": "/app/run",
                                "volumes": ["data:/application"]}}}
    assert lint(doc, doc, production=True) == []
