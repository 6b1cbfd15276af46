"""The profile reader of `veille bench e2e --profile`: py-spy's raw folded stacks to shares."""

from __future__ import annotations

from pathlib import Path

from pipeline.bench.profile import report, summarise

_ROOT = "<module> (veille:8);main (pipeline/cli/__init__.py:30)"
_AGENT = _ROOT + ";enrich (processors/enrich/agent.py:160)"
FOLDED = "\n".join(
    [
        _AGENT + ";detect_batch (processors/enrich/language.py:300) 6",
        _AGENT + ";predict (processors/enrich/sentiment/base.py:90) 3",
        "<module> (veille:8);main (pipeline/cli/__init__.py:31) 1",
        "not a stack line",
    ]
)


def test_shares_by_function_self_and_inclusive(tmp_path: Path) -> None:
    path = tmp_path / "process.folded"
    path.write_text(FOLDED)
    p = summarise(path)
    assert p.samples == 10
    assert p.self_["detect_batch (language.py)"] == 6
    assert p.self_["main (__init__.py)"] == 1
    assert p.inclusive["enrich (agent.py)"] == 9
    assert p.inclusive["<module> (veille)"] == 10  # once per sample, however deep
    text = report("process", p)
    assert text.startswith("# process: 10 samples")
    assert " 60.0 %  detect_batch (language.py)" in text
    assert " 90.0 %  enrich (agent.py)" in text
