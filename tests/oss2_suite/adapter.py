"""pytest plugin loaded (``-p``) when oss2's own test suite runs against ``tagship oss-server``.

It changes no test body, only the housekeeping around them:

- ``mock``: oss2's tests import the old ``mock`` backport; the standard library's ``unittest.mock`` is the same.
- randomness: each test is seeded from its node id, so thread counts, keys and bucket names repeat run to run.
- KMS: setUp builds a ``CryptoBucket`` on Aliyun KMS (a network service); here the same client-side encryption
  runs with a local RSA key pair (``RsaProvider``), so the resumable upload/download tests stay offline.
- logging: tests/common.py turns on DEBUG logging for everything; oss2's per-request debug lines cost more CPU
  than the server does, so after collection the root logger is set back to WARNING.
- live channels: every tearDown lists the bucket's RTMP live channels (``GET /bucket?live``), which the server
  does not implement (501, never a listing); here that listing is empty, as it is for a bucket without any.
"""
from __future__ import annotations

import random
import sys
import unittest.mock
import zlib

import pytest

sys.modules.setdefault("mock", unittest.mock)


def pytest_configure(config):
    import oss2
    random.seed(0)  # tests/common.py draws the bucket-name base at import
    oss2.LiveChannelIterator = lambda bucket, *a, **kw: iter(())
    oss2.AliKMSProvider = lambda *a, **kw: oss2.RsaProvider(_local_key_pair())


def _local_key_pair() -> dict:
    from Crypto.PublicKey import RSA
    global _KEY_PAIR
    if _KEY_PAIR is None:
        key = RSA.generate(1024)
        _KEY_PAIR = {"private_key": key.export_key(), "public_key": key.publickey().export_key()}
    return _KEY_PAIR


_KEY_PAIR = None


def pytest_runtest_setup(item):
    random.seed(zlib.crc32(item.nodeid.encode()))


def out_of_scope(path) -> dict[str, str]:
    """test id -> reason, from ``out_of_scope.txt``."""
    out = {}
    for line in open(path, encoding="utf-8"):
        if line.strip() and not line.startswith("#"):
            test_id, _, reason = line.partition(" -- ")
            out[test_id.strip()] = reason.strip()
    return out


def pytest_collection_modifyitems(config, items):
    import logging
    import os
    logging.getLogger().setLevel(logging.WARNING)
    skip = out_of_scope(os.path.join(os.path.dirname(__file__), "out_of_scope.txt"))
    unknown = set(skip) - {i.nodeid for i in items}
    if unknown and not config.option.keyword and not config.option.markexpr:
        raise pytest.UsageError(f"out_of_scope.txt names tests that do not exist: {sorted(unknown)}")
    kept = [i for i in items if i.nodeid not in skip]
    config.hook.pytest_deselected(items=[i for i in items if i.nodeid in skip])
    items[:] = kept
