"""tagship docs: generated from the settings models; the committed docs are current."""

from pathlib import Path

import yaml
from pydantic import SecretStr

from tagship.pipeline import docs
from tagship.schema import describe
from tagship.settings import PluginSettings, StrList, setting

ROOT = Path(__file__).resolve().parents[2]


class Fake(PluginSettings):
    bucket: str = setting(help="The bucket | with a pipe.")
    password: SecretStr = setting(help="The password.", aliases=["FAKE_PASSWORD"])
    tags: StrList = setting(["latest"], help="Tags.")


def test_markdown_has_woodpecker_front_matter_and_a_row_per_setting():
    rows = describe(Fake)
    text = docs.render_md("oss-push", "publish things", rows, extra="## Notes\n\nHand-written.")
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["name"] == "oss-push" and front["containerImage"] == "tagship/oss-push"
    assert {"icon", "description", "author", "tags", "url"} <= set(front)
    assert "## Notes\n\nHand-written." in text
    assert "| `bucket` | `PLUGIN_BUCKET` | string |  | yes |  | The bucket \\| with a pipe. |" in text
    assert "| `password` | `PLUGIN_PASSWORD`<br>`FAKE_PASSWORD` | secret |  | yes | yes |" in text
    assert "| `tags` | `PLUGIN_TAGS` | list | `latest` |" in text


def test_content_yaml_has_the_plugin_index_shape():
    rows = describe(Fake)
    data = yaml.safe_load(docs.render_content("oss-push", "publish things", rows))
    assert {"title", "author", "tags", "repo", "image", "license", "readme", "description", "example",
            "properties"} <= set(data)
    assert data["properties"]["password"] == {"type": "string", "description": "The password.",
                                              "secret": True, "required": True}
    assert data["properties"]["tags"]["type"] == "array" and data["properties"]["tags"]["defaultValue"] == ["latest"]
    example = yaml.safe_load(data["example"])["steps"][0]
    assert example["image"] == "tagship/oss-push"
    assert example["settings"]["password"] == {"from_secret": "password"}  # secrets never as plain values


def test_check_reports_stale_files(tmp_path, capsys):
    assert docs.main(["--out", str(tmp_path), "oss-push"]) == 0
    assert docs.main(["--out", str(tmp_path), "--check", "oss-push"]) == 0
    (tmp_path / "oss-push.md").write_text("old\n")
    assert docs.main(["--out", str(tmp_path), "--check", "oss-push"]) == 1
    assert "stale: " in capsys.readouterr().err


def test_committed_docs_are_current():
    """docs/plugins matches the settings models (run `make docs` after changing a settings.py)."""
    assert docs.main(["--out", str(ROOT / "docs" / "plugins"), "--check"]) == 0
