"""registry-push's pure decisions, as tables (like drone-docker's tags_test.go)."""

from datetime import datetime, timezone

import pytest

from registry_push import plan


@pytest.mark.parametrize("region,network,instance,host", [
    ("cn-hangzhou", "public", "", "registry.cn-hangzhou.aliyuncs.com"),
    ("cn-hangzhou", "vpc", "", "registry-vpc.cn-hangzhou.aliyuncs.com"),
    ("cn-shanghai", "public", "cri-abc123", "cri-abc123-registry.cn-shanghai.cr.aliyuncs.com"),
    ("cn-shanghai", "vpc", "cri-abc123", "cri-abc123-registry-vpc.cn-shanghai.cr.aliyuncs.com"),
])
def test_aliyun_preset_host_names(region, network, instance, host):
    assert plan.aliyun_host(region, network, instance) == host
    dest = plan.resolve_dest("aliyun", "ly_ops/cmdb_api", region=region, network=network, instance_id=instance)
    assert dest.image == f"{host}/ly_ops/cmdb_api"


@pytest.mark.parametrize("registry,repo,image", [
    # the seed's step: registry and a repo that repeats the host
    ("registry.cn-hangzhou.aliyuncs.com", "registry.cn-hangzhou.aliyuncs.com/ly_ops/cmdb_api",
     "registry.cn-hangzhou.aliyuncs.com/ly_ops/cmdb_api"),
    ("registry.cn-hangzhou.aliyuncs.com", "ly_ops/cmdb_api", "registry.cn-hangzhou.aliyuncs.com/ly_ops/cmdb_api"),
    ("https://localhost:5443/", "team/app", "localhost:5443/team/app"),
    ("", "localhost:5443/team/app", "localhost:5443/team/app"),
    ("", "team/app", "team/app"),                              # Docker Hub
    ("https://index.docker.io/v1/", "team/app", "team/app"),  # drone-docker's default registry value
    ("", "Team/App", "team/app"),                              # repository names are lower case
])
def test_target_resolution(registry, repo, image):
    assert plan.resolve_dest(registry, repo).image == image


def test_seed_naming_project_module():
    assert plan.repo_name("", "live66", "gateway", "") == "live66_gateway"
    assert plan.repo_name("", "live66", "gateway", "ly_ops") == "ly_ops/live66_gateway"
    assert plan.repo_name("x/y", "", "", "") == "x/y"


def _tags(**kw):
    base = dict(tags=[], tags_file=None, auto_tag=False, auto_tag_suffix="", ref=None, tag=None, branch=None,
                default_branch="main", version=None, released=[], floating="smart")
    base.update(kw)
    return plan.plan_tags(**base)


@pytest.mark.parametrize("kw,tags,dropped", [
    ({}, ["latest"], []),                                                         # nothing given: latest
    ({"tags_file": "1.2.3,latest\n"}, ["1.2.3", "latest"], []),                   # the .tags file
    ({"tags": ["a"], "tags_file": "b"}, ["a"], []),                              # tags beat the file
    # smart floating: a hotfix of an old line does not move latest / 1
    ({"tags": ["1.2.4", "1.2", "1", "latest"], "version": "1.2.4", "released": ["1.2.3", "1.3.0"]},
     ["1.2.4", "1.2"], ["1", "latest"]),
    ({"tags": ["1.3.1", "latest"], "version": "1.3.1", "released": ["1.2.3", "1.3.0"]}, ["1.3.1", "latest"], []),
    # always: moved regardless
    ({"tags": ["1.2.4", "latest"], "version": "1.2.4", "released": ["1.3.0"], "floating": "always"},
     ["1.2.4", "latest"], []),
    # no version known: cannot judge, kept
    ({"tags": ["latest"], "released": ["9.9.9"]}, ["latest"], []),
])
def test_tag_plan(kw, tags, dropped):
    p = _tags(**kw)
    assert p.tags == tags
    assert p.dropped == dropped
    assert p.push


@pytest.mark.parametrize("ref,released,tags", [
    ("refs/tags/v1.2.3", [], ["1.2.3", "1.2", "1"]),
    ("refs/tags/v0.9.0", [], ["0.9.0", "0.9"]),
    ("refs/tags/v1.2.3-rc1", [], ["1.2.3-rc1"]),
    ("refs/tags/v1.2.4", ["1.3.0"], ["1.2.4", "1.2"]),       # smart: 1 stays on 1.3.0
    ("refs/heads/main", [], ["latest"]),
])
def test_auto_tag(ref, released, tags):
    p = _tags(auto_tag=True, ref=ref, released=released)
    assert p.tags == tags and p.push


def test_auto_tag_on_a_feature_branch_builds_without_pushing():
    p = _tags(auto_tag=True, ref="refs/heads/feat/x", branch="feat/x")
    assert p.tags == [] and not p.push and "building without pushing" in p.notes[0]


def test_auto_tag_invalid_version_and_bad_tags_are_errors():
    with pytest.raises(ValueError, match="auto_tag"):
        _tags(auto_tag=True, ref="refs/tags/release-x")
    with pytest.raises(ValueError, match="not a valid docker tag"):
        _tags(tags=["1.2.3+build7"])


def test_build_args_proxy_version_service_and_secret_names():
    env = {"http_proxy": "http://bob:SENTINEL-proxy-pw@proxy:3128", "NO_PROXY": "localhost", "MYVAR": "x,y"}
    args, secret = plan.plan_build_args({"API_TOKEN": "t", "GREETING": "a,b,c"}, ["MYVAR"], env,
                                        version="1.2.3", module="gateway")
    assert args["http_proxy"] == args["HTTP_PROXY"] == env["http_proxy"]
    assert args["no_proxy"] == args["NO_PROXY"] == "localhost"
    assert args["MYVAR"] == "x,y" and args["GREETING"] == "a,b,c"          # commas stay whole
    assert args["VERSION"] == "1.2.3" and args["SERVICE_NAME"] == "gateway"
    assert secret == ["API_TOKEN"]
    assert plan.proxy_secrets(args) == ["SENTINEL-proxy-pw"]
    args, _ = plan.plan_build_args({"VERSION": "custom"}, [], {}, version="1.2.3")
    assert args == {"VERSION": "custom"}                                    # an explicit VERSION wins


@pytest.mark.parametrize("name,secret", [("DB_PASSWORD", True), ("NPM_TOKEN", True), ("SSH_KEY", True),
                                         ("ACCESS_KEY_ID", True), ("VERSION", False), ("KEYBOARD", False),
                                         ("MONKEY", False), ("SERVICE_NAME", False)])
def test_secret_looking_names(name, secret):
    assert plan.looks_secret(name) is secret


@pytest.mark.parametrize("text,transient", [
    ("received unexpected HTTP status: 503 Service Unavailable", True),
    ("toomanyrequests: rate limit", True),
    ("unexpected EOF", True),
    ("net/http: TLS handshake timeout", True),
    ("blob upload unknown to registry", True),
    ("denied: requested access to the resource is denied", False),
    ("unauthorized: authentication required", False),
    ("received unexpected HTTP status: 401 Unauthorized", False),
    ("manifest invalid: manifest invalid", False),
])
def test_push_error_classification(text, transient):
    assert plan.transient_push_error(text) is transient


def test_oci_labels():
    labels = plan.oci_labels(created=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc), revision="abc",
                             source="https://git/x.git", url=None, version="1.2.3", title="cmdb_api")
    assert labels == {"org.opencontainers.image.title": "cmdb_api",
                      "org.opencontainers.image.created": "2026-01-02T03:04:05Z",
                      "org.opencontainers.image.revision": "abc",
                      "org.opencontainers.image.source": "https://git/x.git",
                      "org.opencontainers.image.version": "1.2.3"}


def test_label_line_quotes_and_does_not_expand():
    from registry_push.engine import label_line

    line = label_line({"org.opencontainers.image.title": "a b", "x": 'say "hi" $HOME ü'})
    assert line == 'LABEL "org.opencontainers.image.title"="a b" "x"="say \\"hi\\" \\$HOME ü"'


def test_dind_takes_the_mtu_of_the_default_route(tmp_path):
    from registry_push.engine import default_route_mtu

    route = tmp_path / "route"
    route.write_text("Iface\tDestination\tGateway\n"
                     "eth1\t0000FEA9\t00000000\n"
                     "eth0\t00000000\t0101A8C0\n")
    (tmp_path / "net" / "eth0").mkdir(parents=True)
    (tmp_path / "net" / "eth0" / "mtu").write_text("1400\n")
    assert default_route_mtu(str(route), str(tmp_path / "net")) == "1400"
    assert default_route_mtu(str(tmp_path / "missing"), str(tmp_path / "net")) == ""


def test_a_push_thread_that_breaks_is_a_failed_target_not_a_traceback(capsys):
    from registry_push.push import push_all
    from tagship.retry import RetryPolicy, RetryStats

    def no_engine():
        raise ConnectionError("engine went away")

    dest = plan.resolve_dest("localhost:5443", "a/b")
    [res] = push_all(no_engine, [dest], ["1.0.0"], parallel=2, policy=RetryPolicy(sleep=lambda s: None),
                     stats=RetryStats())
    assert res.error == "ConnectionError: engine went away"
    assert "Traceback" not in capsys.readouterr().err
