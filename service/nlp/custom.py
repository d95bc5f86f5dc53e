"""Operators' own intent labels for a community: a few-shot head over the message embedding.

An operator gives each label a handful of examples (8 or more). ``train`` embeds them in
one call and fits a softmax layer over the embedding — the same ``Head`` the built-in heads
are, so probabilities, temperature and "uncertain" behave alike. Stratified k-fold on the
examples gives out-of-fold predictions, which set the temperature and the "uncertain"
threshold and give the cross-validated accuracy stored with every version: there is no
other data to hold out, and an operator needs to know which labels their examples fail to
tell apart.

The head type was chosen by ``eval/fewshot.py`` (report in ``eval/reports/fewshot.md``):
logistic regression on the embedding against class prototypes (nearest centroid) and the
logistic head mixed with a character n-gram layer, on THUCNews headlines, 20 Newsgroups and
the project's intent seeds, 8–32 examples per label over 5 draws.

Versions live in the database (``service/sql/custom.py``); ``CustomHeads`` keeps the active
head of each community in memory and applies it to vectors the pipeline already computed.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np

from service.nlp import heads
from service.nlp.charngrams import CharNgramLayer, fit_idf, tfidf_rows
from service.nlp.classifier import UNCERTAIN
from service.nlp.heads import Head
from service.schemas import check_text

MIN_EXAMPLES = 8  # per label, distinct
MIN_LABELS = 2
MAX_LABELS = 100
MAX_EXAMPLES = 5000  # in all: training stays within seconds
MAX_LABEL_CHARS = 64
KINDS = ("logistic", "prototype", "logistic+chars")
DEFAULT_KIND = "logistic"
LOGISTIC_C = 1.0  # chosen on development samples by eval/fewshot.py
TEXT_C = 10.0
TEXT_MIX = 0.85  # logistic+chars: 0.85 x embedding logits + 0.15 x text logits (dev choice)
PROTOTYPE_SCALE = 10.0  # cosine -> logits before the fitted temperature
FOLDS = 5
SEED = 20261125


class ExamplesError(ValueError):
    """The examples cannot train a head; ``problems`` lists each reason with where it is."""

    def __init__(self, problems: list[dict]) -> None:
        super().__init__("; ".join(p["msg"] for p in problems))
        self.problems = problems  # [{"loc": ["labels", label, index?], "msg": ...}]


# -- input --------------------------------------------------------------------------------
def clean_examples(examples: Mapping[str, list[str]],
                   max_chars: int | None = None) -> dict[str, list[str]]:
    """Labels (sorted) -> distinct stripped texts, or ExamplesError with every problem.

    A text given under two labels is an error naming it: the operator must decide; a
    text repeated under one label counts once.
    """
    problems: list[dict] = []
    if not isinstance(examples, Mapping):
        raise ExamplesError([{"loc": ["labels"], "msg": "give an object of label: [texts]"}])
    seen_label: dict[str, str] = {}
    owner: dict[str, str] = {}
    out: dict[str, list[str]] = {}
    for raw_label, texts in examples.items():
        label = str(raw_label).strip()
        loc = ["labels", raw_label]
        problem = _label_problem(label)
        if problem:
            problems.append({"loc": loc, "msg": problem})
            continue
        if label.casefold() in seen_label:
            problems.append({"loc": loc, "msg": f"label {label!r} is given twice (as "
                             f"{seen_label[label.casefold()]!r} too)"})
            continue
        seen_label[label.casefold()] = label
        kept: dict[str, None] = {}
        for i, text in enumerate(texts if isinstance(texts, list) else [None]):
            if not isinstance(text, str):
                what = f"example {i} is not a text" if isinstance(texts, list) else \
                    "give a list of texts"
                problems.append({"loc": [*loc, i], "msg": f"label {label!r}: {what}"})
                continue
            try:
                text = check_text(text, max_chars)
            except ValueError as exc:
                problems.append({"loc": [*loc, i], "msg": f"label {label!r}, example {i}: {exc}"})
                continue
            other = owner.setdefault(text, label)
            if other != label:
                problems.append({"loc": [*loc, i], "msg": f"the text {_short(text)!r} is given "
                                 f"under both {other!r} and {label!r}: keep it under one"})
                continue
            kept[text] = None
        out[label] = list(kept)
    for label, texts in out.items():
        if len(texts) < MIN_EXAMPLES:
            problems.append({"loc": ["labels", label], "msg": f"label {label!r} has "
                             f"{len(texts)} distinct example(s); at least {MIN_EXAMPLES} are "
                             "needed"})
    if len(examples) < MIN_LABELS:
        problems.append({"loc": ["labels"], "msg": f"give at least {MIN_LABELS} labels "
                         f"(got {len(examples)})"})
    if len(examples) > MAX_LABELS:
        problems.append({"loc": ["labels"], "msg": f"{len(examples)} labels; the limit is "
                         f"{MAX_LABELS}"})
    total = sum(len(t) for t in out.values())
    if total > MAX_EXAMPLES:
        problems.append({"loc": ["labels"], "msg": f"{total} examples; the limit is "
                         f"{MAX_EXAMPLES} in all"})
    if problems:
        raise ExamplesError(problems)
    return {label: out[label] for label in sorted(out)}


def _label_problem(label: str) -> str | None:
    if not label:
        return "a label is empty"
    if len(label) > MAX_LABEL_CHARS:
        return f"label {label[:20]!r}... is longer than {MAX_LABEL_CHARS} characters"
    if label.casefold() == UNCERTAIN:
        return f"{UNCERTAIN!r} is reserved (it is what the head says below its threshold)"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in label):
        return f"label {label!r} contains a control character"
    return None


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


# -- fitting ------------------------------------------------------------------------------
def fit(vectors: np.ndarray, y: np.ndarray, labels: tuple[str, ...], kind: str = DEFAULT_KIND,
        texts: list[str] | None = None, c: float = LOGISTIC_C, text_c: float = TEXT_C,
        mix: float = TEXT_MIX) -> Head:
    """An uncalibrated head (temperature 1) on these rows; ``y`` holds label indices."""
    if kind not in KINDS:
        raise ValueError(f"unknown head kind {kind!r}: use one of {', '.join(KINDS)}")
    if kind == "prototype":
        weights = np.stack([vectors[y == k].mean(axis=0) for k in range(len(labels))])
        weights *= PROTOTYPE_SCALE / np.maximum(np.linalg.norm(weights, axis=1, keepdims=True),
                                                1e-12)
        bias = np.zeros(len(labels))
    else:
        weights, bias = _logreg(vectors, y, len(labels), c)
    head = Head(name="custom", version="", labels=labels, embedder="",
                weights=weights.astype(np.float32), bias=bias.astype(np.float32))
    if kind == "logistic+chars":
        if texts is None:
            raise ValueError("the logistic+chars head reads the texts: pass them")
        features, idf = fit_idf(texts)
        if len(features):
            w, b = _logreg(tfidf_rows(features, idf, texts), y, len(labels), text_c)
            layer = CharNgramLayer(features, idf, w.astype(np.float32), b.astype(np.float32))
            head = replace(head, chars=layer, mix=mix)
    return head


def _logreg(x, y: np.ndarray, k: int, c: float) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression; (k, d) weights and (k,) bias in label order."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=2000, random_state=SEED).fit(x, y)
    coef, bias = np.asarray(model.coef_), np.asarray(model.intercept_)
    if coef.shape[0] == 1:  # two labels: sklearn keeps one row, for classes_[1]
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        bias = np.array([-bias[0] / 2, bias[0] / 2])
    full_w, full_b = np.zeros((k, coef.shape[1])), np.full(k, -1e3)
    full_w[model.classes_], full_b[model.classes_] = coef, bias
    return full_w, full_b


def out_of_fold(vectors: np.ndarray, y: np.ndarray, labels: tuple[str, ...], kind: str,
                texts: list[str] | None = None, folds: int = FOLDS, **params) -> np.ndarray:
    """Raw logits of each example from a head fitted without its fold (stratified)."""
    from sklearn.model_selection import StratifiedKFold

    folds = max(2, min(folds, int(np.bincount(y).min())))
    logits = np.zeros((len(y), len(labels)))
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED)
    for fit_rows, held in split.split(vectors, y):
        head = fit(vectors[fit_rows], y[fit_rows], labels, kind,
                   [texts[i] for i in fit_rows] if texts is not None else None, **params)
        logits[held] = head.raw_logits(vectors[held],
                                       [texts[i] for i in held] if texts is not None else None)
    return logits


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The T minimising the log-loss of softmax(logits / T) (temperature scaling)."""
    from scipy.optimize import minimize_scalar

    def nll(log_t: float) -> float:
        z = logits / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        return float(-(z[np.arange(len(y)), y] - np.log(np.exp(z).sum(axis=1))).mean())

    result = minimize_scalar(nll, bounds=(np.log(0.01), np.log(100.0)), method="bounded")
    return round(float(np.exp(result.x)), 4)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def choose_uncertain(probs: np.ndarray, y: np.ndarray, min_coverage: float = 0.5) -> float:
    """The "uncertain" cut on the calibrated top probability, from out-of-fold predictions.

    The built-in heads' rule: the lowest cut whose answered examples halve the error rate
    while at least ``min_coverage`` of them are answered; if none does, the cut with the
    best accuracy among those answering that many. Few examples give a weak head, so the
    floor is lower than the built-in heads' 0.6: better "uncertain" than a wrong custom
    label counted in an operator's numbers; more examples raise the coverage.
    """
    return heads.choose_uncertain(probs, y, min_coverage)


def cv_metrics(probs: np.ndarray, y: np.ndarray, labels: tuple[str, ...],
               uncertain_below: float, folds: int) -> dict:
    """What the operator reads: cross-validated accuracy, per-label recall, confusions."""
    from sklearn.metrics import f1_score

    pred = probs.argmax(axis=1)
    kept = probs.max(axis=1) >= uncertain_below
    recall = {label: round(float((pred[y == k] == k).mean()), 4) for k, label in enumerate(labels)}
    confused = []
    for a in range(len(labels)):
        for b in range(len(labels)):
            n = int(((y == a) & (pred == b)).sum())
            if a != b and n:
                confused.append({"label": labels[a], "predicted": labels[b], "count": n})
    confused.sort(key=lambda r: -r["count"])
    return {
        "cv_folds": folds,
        "cv_accuracy": round(float((pred == y).mean()), 4),
        "cv_macro_f1": round(float(f1_score(y, pred, average="macro")), 4),
        "cv_coverage": round(float(kept.mean()), 4),
        "cv_accuracy_when_confident": (round(float((pred == y)[kept].mean()), 4)
                                       if kept.any() else None),
        "cv_recall": recall,
        "confused": confused[:10],
        "weak_labels": [label for label, r in recall.items() if r < 0.5],
    }


@dataclass(frozen=True)
class Trained:
    """A calibrated head with the examples it learned from and what CV says about it."""

    head: Head
    kind: str
    examples: dict[str, list[str]]
    metrics: dict


def calibrate(vectors: np.ndarray, y: np.ndarray, labels: tuple[str, ...],
              kind: str = DEFAULT_KIND, texts: list[str] | None = None,
              **params) -> tuple[Head, dict]:
    """Fit on every row; temperature, threshold and metrics from out-of-fold logits.

    ``params``: ``c``, ``text_c``, ``mix`` of ``fit`` (the eval varies them). BLAS runs on
    one thread: on small matrices two threads on two busy cores were 30x slower."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return _calibrate(np.asarray(vectors, dtype=np.float64), y, labels, kind, texts, **params)


def _calibrate(vectors, y, labels, kind, texts, **params) -> tuple[Head, dict]:
    oof = out_of_fold(vectors, y, labels, kind, texts, **params)
    temperature = fit_temperature(oof, y)
    probs = softmax(oof / temperature)
    uncertain_below = choose_uncertain(probs, y)
    folds = max(2, min(FOLDS, int(np.bincount(y).min())))
    head = replace(fit(vectors, y, labels, kind, texts, **params), temperature=temperature,
                   uncertain_below=uncertain_below)
    return head, cv_metrics(probs, y, labels, uncertain_below, folds)


def train(examples: Mapping[str, list[str]], embed: Callable[[list[str]], np.ndarray],
          embedder_name: str, kind: str = DEFAULT_KIND, max_chars: int | None = None) -> Trained:
    """Validate, embed every example in one call, fit and cross-validate a head."""
    start = time.perf_counter()
    clean = clean_examples(examples, max_chars)
    labels = tuple(clean)
    texts = [t for label in labels for t in clean[label]]
    y = np.array([k for k, label in enumerate(labels) for _ in clean[label]])
    vectors = np.asarray(embed(texts), dtype=np.float32)
    embedded = time.perf_counter()
    head, metrics = calibrate(vectors, y, labels, kind,
                              texts if kind == "logistic+chars" else None)
    head = replace(head, embedder=embedder_name)
    metrics |= {"n_examples": len(texts), "per_label": {k: len(v) for k, v in clean.items()},
                "temperature": head.temperature, "uncertain_below": head.uncertain_below,
                "embed_seconds": round(embedded - start, 3),
                "fit_seconds": round(time.perf_counter() - embedded, 3)}
    return Trained(head, kind, clean, metrics)


# -- storage format -----------------------------------------------------------------------
def to_blob(head: Head) -> bytes:
    """The head's arrays as one compressed npz (what the database stores)."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, weights=head.weights.astype(np.float32),
                        bias=head.bias.astype(np.float32),
                        **(head.chars.arrays() if head.chars is not None else {}))
    return buffer.getvalue()


def config_of(head: Head, kind: str) -> dict:
    return {"kind": kind, "temperature": head.temperature,
            "uncertain_below": head.uncertain_below, "mix": head.mix}


def from_row(row: dict) -> CustomHead:
    """A stored version (``service/sql/custom.py``) back as a head."""
    config = row["config"]
    with np.load(io.BytesIO(row["weights"])) as arrays:
        weights, bias = arrays["weights"], arrays["bias"]
        chars = CharNgramLayer.from_arrays(arrays) if "char_weights" in arrays else None
    head = Head(name=f"custom:{row['community']}", version=str(row["version"]),
                labels=tuple(row["labels"]), embedder=row["embedder"], weights=weights,
                bias=bias, temperature=float(config["temperature"]),
                uncertain_below=float(config["uncertain_below"]), chars=chars,
                mix=float(config.get("mix", 1.0)))
    return CustomHead(row["community"], int(row["version"]), head)


# -- prediction ---------------------------------------------------------------------------
@dataclass(frozen=True)
class CustomIntent:
    label: str  # a custom label, or "uncertain" below the head's threshold
    prob: float  # the top probability
    version: int
    probs: dict[str, float]


@dataclass(frozen=True)
class CustomHead:
    community: str
    version: int
    head: Head

    def predict(self, vectors: np.ndarray, texts: list[str] | None = None) -> list[CustomIntent]:
        if len(vectors) == 0:
            return []
        probs = self.head.predict_proba(vectors, texts)
        out = []
        for row in probs:
            best = int(row.argmax())
            label = self.head.labels[best] if row[best] >= self.head.uncertain_below else UNCERTAIN
            out.append(CustomIntent(label, round(float(row[best]), 4), self.version,
                                    {lab: round(float(p), 4)
                                     for lab, p in zip(self.head.labels, row, strict=True)}))
        return out


class CustomHeads:
    """The active custom head of each community, loaded once and kept in memory.

    Each lookup asks the store which version is active (one indexed row), so a retrain or
    a roll-back made by another worker process is picked up at its next batch; the head
    itself is read and decoded only when that changes. A head trained for another
    embedder than the service's is ignored (its versions say so; retrain to use it).
    """

    def __init__(self, store, embedder_name: str) -> None:
        self.store = store
        self.embedder_name = embedder_name
        self._heads: dict[str, tuple[int | None, CustomHead | None]] = {}
        self._lock = threading.Lock()

    def get(self, community: str) -> CustomHead | None:
        stamp = self.store.active_custom_head_id(community)
        cached = self._heads.get(community)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        row = self.store.custom_head(community) if stamp is not None else None
        head = (from_row(row) if row is not None and row["embedder"] == self.embedder_name
                else None)
        with self._lock:
            self._heads[community] = (row["id"] if row is not None else None, head)
        return head

    def invalidate(self, community: str) -> None:
        with self._lock:
            self._heads.pop(community, None)


# -- what the API and the CLI call --------------------------------------------------------
def retrain(store, embed: Callable[[list[str]], np.ndarray], embedder_name: str,
            community: str, examples: Mapping[str, list[str]], created_by: str, now: str,
            max_chars: int | None = None, kind: str = DEFAULT_KIND) -> dict:
    """Train a head from the examples and store it as the community's new active version.

    Raises ExamplesError (nothing stored) when the examples cannot train a head.
    """
    trained = train(examples, embed, embedder_name, kind, max_chars)
    return store.add_custom_head(
        community=community, kind=trained.kind, labels=list(trained.head.labels),
        embedder=embedder_name, config=config_of(trained.head, trained.kind),
        weights=to_blob(trained.head), examples=trained.examples, metrics=trained.metrics,
        created_by=created_by, now=now)


class VersionError(ValueError):
    """A version cannot be made active."""


class UnknownVersion(VersionError):
    """The community has no such version."""


class StaleVersion(VersionError):
    """The version was trained for another embedder than the service's."""


def activate(store, community: str, version: int, embedder_name: str) -> dict:
    """Make an earlier (or later) version the active one again: a roll-back."""
    found = store.custom_head_versions(community, version=version)
    if not found:
        raise UnknownVersion(f"community {community!r} has no custom intents version {version}")
    if found[0]["embedder"] != embedder_name:
        raise StaleVersion(f"version {version} was trained for embedder "
                           f"{found[0]['embedder']!r}, the service uses {embedder_name!r}: "
                           "train again from its examples")
    store.activate_custom_head(community, version)
    return store.custom_head_versions(community, version=version)[0]


def describe(store, community: str, embedder_name: str, version: int | None = None) -> dict | None:
    """A version (the active one by default) with its examples, and every version's summary;
    None when the community has no custom intents (or no such version)."""
    row = store.custom_head(community, version)
    if row is None:
        return None
    history = store.custom_head_versions(community)
    active = next((h["version"] for h in history if h["active"]), None)
    row = {k: v for k, v in row.items() if k not in ("weights", "id")}
    return row | {"active_version": active, "usable": row["embedder"] == embedder_name,
                  "history": [_summary(h, embedder_name) for h in history]}


def _summary(version: dict, embedder_name: str) -> dict:
    m = version["metrics"]
    return {"version": version["version"], "active": version["active"],
            "labels": version["labels"], "kind": version["kind"],
            "n_examples": m.get("n_examples"), "cv_accuracy": m.get("cv_accuracy"),
            "cv_macro_f1": m.get("cv_macro_f1"), "created_at": version["created_at"],
            "created_by": version["created_by"],
            "usable": version["embedder"] == embedder_name}


def summary_text(found: dict) -> str:
    """``describe``'s answer as lines for a terminal (the CLI prints it)."""
    m = found["metrics"]
    state = "active" if found["active"] else f"not active (version {found['active_version']} is)"
    lines = [f"{found['community']}: custom intents version {found['version']}, {state}; "
             f"{found['kind']} head, {m['n_examples']} examples, trained "
             f"{found['created_at'][:16]} by {found['created_by']}"
             + ("" if found["usable"] else f" [trained for {found['embedder']}: retrain]"),
             f"cross-validated ({m['cv_folds']}-fold on the examples): accuracy "
             f"{m['cv_accuracy']:.2f}, macro-F1 {m['cv_macro_f1']:.2f}; \"uncertain\" below "
             f"{found['config']['uncertain_below']:.2f} (answers {m['cv_coverage']:.0%}, "
             f"accuracy then {m['cv_accuracy_when_confident'] or 0:.2f})"]
    for label in found["labels"]:
        lines.append(f"  {label:<24} {m['per_label'][label]:>4} examples, "
                     f"CV recall {m['cv_recall'][label]:.2f}"
                     + ("  <- add examples" if label in m["weak_labels"] else ""))
    for c in m["confused"][:3]:
        lines.append(f"  confused: {c['count']} {c['label']} example(s) taken for {c['predicted']}")
    lines.append("versions: " + ", ".join(
        f"{h['version']}{'*' if h['active'] else ''} ({h['created_at'][:10]}, "
        f"CV {h['cv_accuracy']:.2f})" for h in found["history"]))
    return "\n".join(lines)


def read_examples(path) -> dict[str, list[str]]:
    """Examples from a file: JSONL (``{"label": ..., "text": ...}`` per line) or CSV
    (``label,text`` per row; a first row ``label,text`` is a header)."""
    import csv
    import json
    from pathlib import Path

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".ndjson", ".csv", ".tsv"):
        raise ExamplesError([{"loc": ["file"], "msg": f"{path.name}: use a .jsonl or .csv "
                              "file (label and text)"}])
    out: dict[str, list[str]] = {}
    problems = []
    raw = path.read_text(encoding="utf-8-sig")
    if suffix in (".jsonl", ".ndjson"):
        rows = []
        for n, line in enumerate(raw.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                rows.append((n, item["label"], item["text"]))
            except (ValueError, KeyError, TypeError):
                problems.append({"loc": [f"line {n}"], "msg": f"line {n}: give a JSON object "
                                 'with "label" and "text"'})
    else:
        reader = csv.reader(io.StringIO(raw), delimiter="\t" if suffix == ".tsv" else ",")
        rows = []
        for n, cells in enumerate(reader, start=1):
            if not any(c.strip() for c in cells):
                continue
            if n == 1 and [c.strip().lower() for c in cells[:2]] == ["label", "text"]:
                continue
            if len(cells) != 2:
                problems.append({"loc": [f"line {n}"], "msg": f"line {n}: give two columns, "
                                 f"label and text (got {len(cells)}; quote texts with commas)"})
                continue
            rows.append((n, cells[0], cells[1]))
    if problems:
        raise ExamplesError(problems)
    for _, label, text in rows:
        out.setdefault(str(label), []).append(text)
    return out
