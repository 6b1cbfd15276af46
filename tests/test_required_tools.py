"""`require_tool`: a test that needs a Debian tool skips without it, except under CI."""

from __future__ import annotations

from pathlib import Path

import pytest
from factories import INSTALL_TOOLS, require_tool


@pytest.fixture
def bare_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH of one empty folder: no tool is installed."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CI", raising=False)
    return tmp_path


def test_a_missing_tool_skips_saying_how_to_install_it(bare_path: Path) -> None:
    with pytest.raises(pytest.skip.Exception) as skipped:
        require_tool("chromium", "chromium-browser")
    assert "chromium is not installed" in str(skipped.value)
    assert INSTALL_TOOLS in str(skipped.value)


@pytest.mark.parametrize("ci", ["true", "1"])
def test_a_missing_tool_fails_under_ci(
    bare_path: Path, monkeypatch: pytest.MonkeyPatch, ci: str
) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match="docker-compose is not installed"):
        require_tool("docker-compose")


def test_the_first_tool_found_is_used(bare_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "false")
    browser = bare_path / "chromium-browser"
    browser.write_text("#!/bin/sh\n")
    browser.chmod(0o755)
    assert require_tool("chromium", "chromium-browser") == str(browser)
