"""Would another ranking model, objective or candidate depth choose better sentences?

On the *fit* questions of both RealTime QA sets (``bench/datasets.py``), with the same
5-fold cross-validation over questions as ``bench/fit_answer.py``, compares how often the
top-ranked sentence holds a gold answer for:

- the logistic model ``qa`` uses (pointwise: each sentence labelled on its own), over the
  sentences of the 20 best chunks and of the 40 best;
- gradient-boosted trees on the same features (scikit-learn ``HistGradientBoostingClassifier``),
  which can learn interactions the linear model cannot;
- a listwise (softmax over each question's candidates) linear model, which fits the choice
  of one sentence per question directly rather than each sentence's label.

Also prints the ceiling: the share of questions with any right sentence among the candidates.
Run: ``.venv/bin/python bench/ranker_variants.py`` (about 10 minutes once the stores exist).
"""

from __future__ import annotations

import math
import sys
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import datasets  # noqa: E402
import fit_answer  # noqa: E402

from qa.rank import FEATURES  # noqa: E402

NAMES = tuple(FEATURES)
FOLDS = 5


def within(rows: list[dict], chunks: int) -> list[dict]:
    """The rows with only the candidates from the first ``chunks`` retrieved chunks."""
    out = []
    for r in rows:
        keep = [i for i, c in enumerate(r["found"]) if c.features["rank"] <= math.log1p(chunks) + 1e-9]
        out.append({**r, "found": [r["found"][i] for i in keep], "labels": [r["labels"][i] for i in keep]})
    return out


def matrix(row: dict) -> np.ndarray:
    return np.array([[c.features[n] for n in NAMES] for c in row["found"]], dtype=np.float64)


def logistic(train: list[dict], c: float):
    model = fit_answer.fit_model(train, NAMES, c)
    return lambda x: model.probability([dict(zip(NAMES, row, strict=True)) for row in x])


def boosted(train: list[dict], rounds: int):
    from sklearn.ensemble import HistGradientBoostingClassifier

    x = np.vstack([matrix(r) for r in train])
    y = np.array([label for r in train for label in r["labels"]])
    trees = HistGradientBoostingClassifier(
        max_iter=rounds,
        learning_rate=0.05,
        max_leaf_nodes=15,
        min_samples_leaf=40,
        l2_regularization=1.0,
        random_state=0,
    )
    fitted = trees.fit(x, y)
    return lambda x: fitted.predict_proba(x)[:, 1]


def listwise(train: list[dict], penalty: float):
    """A linear score fitted to make each question's right sentences likeliest under a softmax
    over its candidates (questions with no right candidate carry no signal and are left out)."""
    from scipy.optimize import minimize
    from scipy.special import logsumexp

    everything = np.vstack([matrix(r) for r in train])
    mean, scale = everything.mean(axis=0), everything.std(axis=0) + 1e-9
    groups = [((matrix(r) - mean) / scale, np.array(r["labels"], dtype=bool)) for r in train if any(r["labels"])]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = penalty * w @ w, 2 * penalty * w
        for x, right in groups:
            z = x @ w
            all_z, right_z = logsumexp(z), logsumexp(z[right])
            total -= right_z - all_z
            grad -= np.exp(z[right] - right_z) @ x[right] - np.exp(z - all_z) @ x
        return total, grad

    w = minimize(loss, np.zeros(len(NAMES)), jac=True, method="L-BFGS-B").x
    return lambda x: ((x - mean) / scale) @ w


def top_right(rows: list[dict], fit) -> float:
    """Cross-validated share of answerable questions whose top sentence holds the answer."""
    fold = np.random.default_rng(0).permutation(len(rows)) % FOLDS
    right = []
    for k in range(FOLDS):
        score = fit([r for r, f in zip(rows, fold, strict=True) if f != k and r["found"]])
        for r, f in zip(rows, fold, strict=True):
            if f == k and r["item"]["answers"]:
                right.append(bool(r["found"]) and r["labels"][int(np.argmax(score(matrix(r))))])
    return float(np.mean(right))


def main() -> int:
    if not datasets.available():
        print(f"skipped: no corpora at {datasets.CORPORA}")
        return 0
    deep = [r for name in fit_answer.FIT_SETS for r in fit_answer.collect(name, "fit", with_model=False, chunks=40)]
    print(f"Measured at commit {datasets.commit()} by bench/ranker_variants.py (fit split, {FOLDS}-fold CV):\n")
    print("| candidates | model | top sentence right (CV) | ceiling |")
    print("| --- | --- | --- | --- |")
    for chunks in (20, 40):
        rows = within(deep, chunks)
        ceiling = np.mean([any(r["labels"]) for r in rows if r["item"]["answers"]])
        variants = {
            **{f"logistic, C={c}": partial(logistic, c=c) for c in fit_answer.C_GRID[:3]},
            **{f"boosted trees, {n} rounds": partial(boosted, rounds=n) for n in (100, 200, 400)},
            **{f"listwise, L2={p}": partial(listwise, penalty=p) for p in (0.3, 3.0, 30.0)},
        }
        for label, fit in variants.items():
            print(f"| {chunks} chunks | {label} | {top_right(rows, fit):.3f} | {ceiling:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
