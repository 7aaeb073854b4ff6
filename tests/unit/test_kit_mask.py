"""Secrets never reach output: in log lines, exception text, subprocess output, chunked streams."""

from __future__ import annotations

import io
import sys

import pytest

from tagship import log, mask, proc
from tagship.errors import PluginError
from tagship.mask import Masker, StreamMasker

SECRET = "SENTINEL-s3cr3t-7d1f"


@pytest.fixture()
def masker():
    mask.MASKER.clear()
    mask.register(SECRET)
    yield mask.MASKER
    mask.MASKER.clear()


def test_log_lines_are_masked(masker):
    out = io.StringIO()
    log.configure(stream=out)
    try:
        log.info(f"logging in with {SECRET}")
        log.table("summary", [("password", SECRET)])
    finally:
        log.configure()
    assert SECRET not in out.getvalue()
    assert "******" in out.getvalue()


def test_secret_inside_exception_text(masker):
    try:
        raise RuntimeError(f"401 for token={SECRET}")
    except RuntimeError as exc:
        assert SECRET not in mask.mask(exc)


def test_subprocess_output_is_masked(masker):
    with pytest.raises(PluginError) as err:
        proc.run([sys.executable, "-c", f"import sys; print('{SECRET}'); sys.exit(3)"])
    assert SECRET not in str(err.value)
    assert "exit 3" in str(err.value)
    done = proc.run([sys.executable, "-c", f"print('x{SECRET}x')"])
    assert done.stdout.strip() == "x******x"


@pytest.mark.parametrize("cut", range(1, len(SECRET)))
def test_secret_split_across_two_chunks(masker, cut):
    stream = StreamMasker()
    text = f"Step 3: ARG TOKEN={SECRET} done"
    at = text.index(SECRET) + cut
    first = stream.feed(text[:at])
    assert first == "Step 3: ARG TOKEN="  # the secret's start is held back, not shown
    shown = first + stream.feed(text[at:]) + stream.flush()
    assert shown == "Step 3: ARG TOKEN=****** done"


def test_stream_in_single_characters(masker):
    stream = StreamMasker()
    shown = "".join(stream.feed(ch) for ch in f"a{SECRET}b{SECRET}") + stream.flush()
    assert shown == "a******b******"


def test_prefix_that_is_not_a_secret_is_released_at_flush(masker):
    stream = StreamMasker()
    first = stream.feed("ends with SENTINEL-s3")
    assert first == "ends with "
    assert stream.feed(" no") == "SENTINEL-s3 no"
    assert stream.flush() == ""


def test_encoded_forms_and_basic_auth():
    m = Masker()
    m.register('p@ss"word/1')
    m.register_basic_auth("user", "hunter2hunter2")
    assert m.mask('{"pw": "p@ss\\"word/1"}') == '{"pw": "******"}'
    assert m.mask("p%40ss%22word%2F1") == "******"
    assert m.mask("Authorization: Basic dXNlcjpodW50ZXIyaHVudGVyMg==") == "Authorization: Basic ******"


def test_longest_secret_wins():
    m = Masker()
    m.register("abc123")
    m.register("abc123456")
    assert m.mask("x abc123456 y abc123") == "x ****** y ******"


def test_missing_program_without_check_is_exit_127():
    done = proc.run(["tagship-no-such-program"], check=False)
    assert done.returncode == 127
    with pytest.raises(PluginError, match="not installed"):
        proc.run(["tagship-no-such-program"])
