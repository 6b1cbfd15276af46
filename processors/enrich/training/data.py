"""The XLM-T tweet sentiment data the models are trained and measured on.

`default_data_dir()` finds the data: `$VEILLE_XLMT_DIR` when set, else `<repo>/../shared/data/
xlmt`. The folder holds one sub-folder per language (`arabic`, `english`, ...) with
`{train,val}_{text,labels}.txt`, one tweet (or label 0/1/2) a line: the layout of the
`data/sentiment` folder of the public repository cardiffnlp/xlm-t. `language_folders(data_dir)`
lists the language folders present (none: not XLM-T data). `load_split(data_dir,
split)` reads one split of every language present, undoing the dataset's own escaping (literal
`\\uXXXX`, CSV-doubled quotes); it raises `FileNotFoundError` when the folder has no language,
`ValueError` when texts and labels do not pair up.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

Split = Literal["train", "val"]

FOLDER_LANGS = {
    "arabic": "ar",
    "english": "en",
    "french": "fr",
    "german": "de",
    "hindi": "hi",
    "italian": "it",
    "portuguese": "pt",
    "spanish": "es",
}
"""The dataset's folder names and their ISO 639-1 codes (hindi is mostly romanised Hinglish)."""

_ESCAPE_RE = re.compile(r"\\u([0-9a-fA-F]{4})")


def default_data_dir() -> Path:
    """`$VEILLE_XLMT_DIR`, else the `xlmt` folder at `<repo root>/../shared/data/xlmt`."""
    env = os.environ.get("VEILLE_XLMT_DIR")
    if env:
        return Path(env)
    repo_root = Path(__file__).resolve().parents[3]
    return repo_root.parent / "shared" / "data" / "xlmt"


@dataclass(frozen=True)
class SplitData:
    """One split of every language: parallel lists, labels as 0/1/2 (negative/neutral/positive)."""

    texts: list[str]
    labels: npt.NDArray[np.int64]
    langs: list[str]


def _unescape(line: str) -> str:
    line = _ESCAPE_RE.sub(lambda m: chr(int(m.group(1), 16)), line)
    stripped = line.strip()
    if len(stripped) > 1 and stripped.startswith('"') and stripped.endswith('"'):
        line = stripped[1:-1].replace('""', '"')
    return line


def language_folders(data_dir: Path) -> list[Path]:
    """The language folders of `FOLDER_LANGS` under `data_dir`, in name order; empty when
    `data_dir` is missing, not a folder, or holds none."""
    if not data_dir.is_dir():
        return []
    return sorted(p for p in data_dir.iterdir() if p.name in FOLDER_LANGS and p.is_dir())


def load_split(data_dir: Path, split: Split) -> SplitData:
    """Every language of `split` under `data_dir`, languages in folder-name order."""
    texts: list[str] = []
    labels: list[int] = []
    langs: list[str] = []
    folders = language_folders(data_dir)
    if not folders:
        raise FileNotFoundError(f"no XLM-T language folder under {data_dir}")
    for folder in folders:
        lines = (folder / f"{split}_text.txt").read_text(encoding="utf-8").split("\n")
        values = (folder / f"{split}_labels.txt").read_text(encoding="utf-8").split()
        if lines and lines[-1] == "" and len(lines) == len(values) + 1:
            lines.pop()
        if len(lines) != len(values):
            raise ValueError(f"{folder}: {len(lines)} {split} texts but {len(values)} labels")
        texts += [_unescape(line) for line in lines]
        labels += [int(v) for v in values]
        langs += [FOLDER_LANGS[folder.name]] * len(values)
    return SplitData(texts, np.array(labels, dtype=np.int64), langs)
