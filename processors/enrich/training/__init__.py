"""Training and evaluation of the sentiment models on the XLM-T tweet sentiment splits.

Run from the shell as `veille train sentiment` and `veille eval sentiment|language`
(`pipeline/cli/train.py`). Modules:

- `data`: `default_data_dir()` (`$VEILLE_XLMT_DIR`, else `<repo>/../shared/data/xlmt`),
  `language_folders(data_dir)` and `load_split(data_dir, split)`, one split of every language
  present.
- `fast`: `train_fast(data_dir, out)`, the `fast` model fitted on the train split (val picks
  C and the softmax temperature).
- `accurate`: `train_accurate(data_dir, out)`, the `accurate` model's stacked classifier (e5
  embeddings, cached by `embed_cached`, plus out-of-fold fast-model log-probabilities).
- `fit`: the fitting steps both share (TF-IDF, NB-LR and softmax regressions, temperature).
- `evaluate`: `evaluate(backend, data_dir, split)` (macro-F1 % per language and `mean`) and
  `evaluate_language(detector, data_dir, split)` (accuracy % per language, throughput).

Training needs the `train` extra (scikit-learn, scipy), imported inside the functions that
fit; importing this package, evaluating and scoring never need it. Same data, seed and
scikit-learn version: same weights. Only the train and val splits are read.
"""

from processors.enrich.training.accurate import (
    ACCURATE_C_GRID,
    default_cache_dir,
    embed_cached,
    train_accurate,
)
from processors.enrich.training.data import (
    FOLDER_LANGS,
    Split,
    SplitData,
    default_data_dir,
    language_folders,
    load_split,
)
from processors.enrich.training.evaluate import evaluate, evaluate_language, macro_f1
from processors.enrich.training.fast import FAST_C_GRID, train_fast
from processors.enrich.training.fit import NB_ALPHA

__all__ = [
    "ACCURATE_C_GRID",
    "FAST_C_GRID",
    "FOLDER_LANGS",
    "NB_ALPHA",
    "Split",
    "SplitData",
    "default_cache_dir",
    "default_data_dir",
    "embed_cached",
    "evaluate",
    "evaluate_language",
    "language_folders",
    "load_split",
    "macro_f1",
    "train_accurate",
    "train_fast",
]
