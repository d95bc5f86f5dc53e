"""PII redaction: replace emails, phone numbers, URLs, WeChat/QQ handles, Chinese resident
ID numbers and bank card numbers with typed placeholders before a message is stored or
embedded.

Pure functions over precompiled regexes; no state beyond the compiled patterns. Each
detector proposes spans on the original text; detectors run in a fixed priority order and
a span that overlaps one already taken is dropped, so a text is replaced in one pass and
no placeholder is ever re-matched. Where a regex alone would eat ordinary numbers, a
validator decides: ID numbers need their checksum (GB 11643), card numbers the Luhn check
and a card-network first digit, phone numbers a plausible shape and no currency sign or
unit beside them.

What is deliberately *not* redacted (tests pin each choice): prices (``¥299``, ``$1,299``),
years and dates (``2026``, ``2026-11-20``), times (``12:30``), version numbers
(``1.2.3``), order numbers and counts of up to 10 bare digits (``订单号 123456``,
``3000000 users``), SMS short codes (``text WIN to 82468``), and US numbers written as 10
bare digits without separators (indistinguishable from order numbers). An 11-digit run
shaped like a Chinese mobile (``1[3-9]`` + 9 digits) *is* redacted unless a currency sign
or a unit (元, 万, users, ...) touches it. WeChat and QQ handles are only recognised after
their keyword (微信/vx/wx/WeChat/加V..., QQ/扣扣/企鹅); the keyword itself is kept, so
"加微信 [WECHAT]" still reads as an ad to the spam head.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

KINDS = ("email", "phone", "url", "wechat", "qq", "id_number", "card")
PLACEHOLDERS = {"email": "[EMAIL]", "phone": "[PHONE]", "url": "[URL]", "wechat": "[WECHAT]",
                "qq": "[QQ]", "id_number": "[ID]", "card": "[CARD]"}


@dataclass(frozen=True)
class Redaction:
    text: str
    counts: dict[str, int] = field(default_factory=dict)  # kind -> replacements (nonzero only)


# -- patterns ---------------------------------------------------------------------------

# Characters that end a URL: whitespace, quotes, angle brackets, CJK punctuation and CJK
# text itself (in chat, Chinese right after a link is the sentence going on, not an IRI).
_URL_BODY = (r"[^\s<>\"'`，。！？、；：（）【】《》「」『』“”‘’…"
             r"\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
_URL_TRAILING = ".,;:!?)]}'\""
# Bare domains (no scheme, no www.) only with these TLDs: common ones, Chinese ones and
# a few link shorteners; words like "call.me" or "log.in" stay text.
_BARE_TLDS = ("com|net|org|cn|io|info|biz|xyz|top|vip|cc|tv|gov|edu|hk|tw|uk|us|de|jp|app|"
              "dev|ai|ly|gl|shop|site|online|club|link|mobi|asia|wang|ink")

_SCHEME_URL = re.compile(rf"(?<![A-Za-z])(?:https?|ftp)://{_URL_BODY}+", re.IGNORECASE)
_WWW_URL = re.compile(rf"(?<![A-Za-z0-9.@-])www\.[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
                      rf"(?:[:/?#]{_URL_BODY}*)?", re.IGNORECASE)
_BARE_URL = re.compile(
    rf"(?<![A-Za-z0-9.@_-])(?:[A-Za-z0-9](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?\.)+"
    rf"(?:{_BARE_TLDS})(?:\.[a-z]{{2}})?(?![A-Za-z0-9-])(?:[:/?#]{_URL_BODY}*)?", re.IGNORECASE)

# The local part is dot-separated atoms ("a.b", never "a..b": then only "b..." is the address).
_EMAIL = re.compile(r"(?<![A-Za-z0-9_%+-])(?<![A-Za-z0-9_%+-]\.)[A-Za-z0-9_%+-]{1,64}"
                    r"(?:\.[A-Za-z0-9_%+-]{1,64})*"
                    r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9-]{1,63})*"
                    r"\.[A-Za-z]{2,24}(?![A-Za-z0-9-])")

# A digit run must not continue a number (digits, or a decimal/thousands mark after one).
_NUM_START = r"(?<![\d])(?<!\d[.,])"
_NUM_END = r"(?![\d])(?![.,]\d)"
# A phone number does not start right after another number and one separator either
# ("6222 0212 3456 7890 123" is not a card plus a phone number; "Upd8 0800..." may be).
_PHONE_START = _NUM_START + r"(?<!\d\d[ \-])(?<![^A-Za-z]\d[ \-])"
_SEP = r"[ \-.\u00a0]"
_PHONE = re.compile(
    "|".join([
        # International: +CC then 6-14 more digits in groups ("+86 138 1234 5678",
        # "+1 (415) 555-2671", "+44 20 7946 0958"); also 00CC.
        rf"(?<![A-Za-z0-9_+])(?:\+|(?<!\d)00)[1-9]\d{{0,2}}(?:{_SEP}?\(?\d{{1,5}}\)?){{2,6}}{_NUM_END}",
        # Chinese mobile, optionally with 86 / (+86): 13812345678, 138-1234-5678.
        rf"{_PHONE_START}(?:\(\+?86\)\s?|86[ -]?)?1[3-9]\d(?:[ \-]?\d{{4}}){{2}}{_NUM_END}",
        # US/NANP style with separators: (415) 555-2671, 415-555-2671, 415.555.2671,
        # 1-800-555-0199; also Chinese 400/800 service numbers 400-820-8820.
        rf"{_PHONE_START}(?:1[ \-.])?(?:\(\d{{3}}\)\s?|\d{{3}}[ \-.])\d{{3}}[ \-.]\d{{4}}{_NUM_END}",
        # Chinese 400/800 service lines written without separators: 4008208820.
        rf"{_PHONE_START}[48]00\d{{7}}{_NUM_END}",
        # Trunk-prefixed national numbers: Chinese landlines 010-12345678, 0755 8765 4321;
        # UK 020 7946 0958, 09058094507, 0800 1956669, 07946 746291.
        rf"{_PHONE_START}0\d{{1,4}}(?:[ \-]?\d{{2,8}}){{1,3}}{_NUM_END}",
    ])
)
# A currency sign before, or a unit after, means an amount or a count, not a phone.
_AMOUNT_BEFORE = re.compile(r"[¥￥$£€]\s*$")
_UNIT_AFTER = re.compile(
    r"^\s*(?:元|块|圆|万|亿|人|个|次|条|件|位|名|台|张|份|只|斤|岁|%|％|rmb|yuan|usd|dollars?|users?"
    r"|people|members?|views?|times|pcs|km|kg|mb|gb)(?![A-Za-z])", re.IGNORECASE)

# WeChat: keyword, optional "号/ID/是/:" and then the handle. WeChat's own rule for an id
# is 6-20 letters, digits, _ and -, starting with a letter; people also give their phone
# or QQ number as their WeChat. An all-letter handle needs an explicit separator (":",
# "号", "是", "ID") so "wechat account" is not a handle.
# A handle may follow an ASCII keyword directly ("VXabc_123"); without a separator it must
# then hold a digit, "_" or "-", so "wxWidgets" or "wechatapp" are not handles.
_WECHAT_KEY = (r"(?:微信|威信|薇信|徽信|维信|V信|v信|加微|VX|vx|Vx|vX|WX|wx|Wx|weixin|Weixin"
               r"|WEIXIN|wechat|WeChat|Wechat|WECHAT|加V|加v|➕V|➕v|\+V|\+v)")
_WECHAT = re.compile(
    rf"{_WECHAT_KEY}(?P<sep>(?:\s*(?:号码|号|是|[:：=]|搜索?|添加"
    rf"|(?:[Ii][Dd]|[Ii]s)(?![A-Za-z]))){{1,3}})?\s*"
    rf"(?P<id>[A-Za-z][-_A-Za-z0-9]{{5,19}}|\+?\d(?:[ \-]?\d){{4,13}})(?![-_A-Za-z0-9])")
_WECHAT_STOP = frozenset({"account", "accounts", "group", "groups", "official", "number",
                          "please", "message", "messages", "moments", "payment", "friends",
                          "contact", "search", "through", "instead"})

_QQ = re.compile(
    r"(?P<key>QQ|qq|Qq|扣扣|企鹅|球球)(?:\s*(?:群号?|号码?|[:：=是]"
    r"|(?:[Gg]roup|[Nn]umber|[Nn]o|[Ii][Dd]|[Ii]s)(?![A-Za-z])\.?)){0,3}\s*(?P<id>[1-9]\d{4,10})(?!\d)")

_ID_NUMBER = re.compile(
    r"(?<![0-9A-Za-z])(?P<id>[1-9]\d{5} ?(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])"
    r"(?:0[1-9]|[12]\d|3[01]) ?\d{3}[\dXx])(?![0-9A-Za-z])")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

# 13-19 digits, bare or in groups of 4 (Amex 4-6-5); separators must be consistent enough
# that a date or a sum is not read as a card: the Luhn check and the first digit decide.
_CARD = re.compile(
    rf"{_NUM_START}(?P<id>\d{{13,19}}|\d{{4}}(?:[ \-]\d{{4}}){{2,3}}(?:[ \-]\d{{1,4}})?"
    rf"|3[47]\d{{2}}[ \-]\d{{6}}[ \-]\d{{5}}){_NUM_END}")


# -- validators -------------------------------------------------------------------------

def id_checksum_ok(number: str) -> bool:
    """GB 11643-1999 check character of an 18-character Chinese resident ID."""
    digits = number.replace(" ", "")
    if len(digits) != 18 or not digits[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == digits[17].upper()


def luhn_ok(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _phone_ok(text: str, m: re.Match) -> bool:
    value = m.group(0)
    digits = sum(c.isdigit() for c in value)
    if value.startswith("+") or value.startswith("00"):
        if not 8 <= digits <= 15 + (2 if value.startswith("00") else 0):
            return False
    elif value.startswith("0") and not 10 <= digits <= 12:
        return False
    if sum(c in " -.\u00a0" for c in value) > 4:
        return False
    if not value.isdigit():  # written as a phone number: +, brackets or separators
        return True
    # A bare digit run is a phone number unless it is an amount or a count.
    return not (_AMOUNT_BEFORE.search(text, 0, m.start())
                or _UNIT_AFTER.match(text[m.end():m.end() + 12]))


def _card_ok(text: str, m: re.Match) -> bool:
    value = m.group("id")
    digits = "".join(c for c in value if c.isdigit())
    # No amount or unit guard: 13-19 digits that pass Luhn and start like a card are not
    # a price or a count in practice, and Chinese glues measure words to numbers.
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_ok(digits)


def _id_ok(text: str, m: re.Match) -> bool:
    return id_checksum_ok(m.group("id"))


def _after_word(text: str, m: re.Match) -> bool:
    """The keyword continues a Latin word or a number ("W111WX 445...", "FAQQ")."""
    return m.start() > 0 and text[m.start() - 1].isascii() and text[m.start() - 1].isalnum()


def _wechat_ok(text: str, m: re.Match) -> bool:
    if _after_word(text, m):
        return False
    handle = m.group("id")
    if handle[0].isalpha() and m.group("sep") is None:
        if handle.isalpha() or handle.lower() in _WECHAT_STOP:
            return False
    return handle.lower() not in _WECHAT_STOP


def _always(text: str, m: re.Match) -> bool:
    return True


def _qq_ok(text: str, m: re.Match) -> bool:
    if _after_word(text, m) and m.group("key")[0] in "Qq":
        return False
    # 企鹅 (penguin) and 球球 are words too: "企鹅 12345只" counts penguins.
    return m.group("key") not in ("企鹅", "球球") or not _UNIT_AFTER.match(text[m.end():m.end() + 12])


# -- detectors --------------------------------------------------------------------------

@dataclass(frozen=True)
class _Detector:
    kind: str
    pattern: re.Pattern
    group: str | int = 0  # the part replaced (a keyword before it is kept)
    check: Callable[[str, re.Match], bool] = _always
    gate: Callable[[str], bool] | None = None  # a cheap test: skip the regex when false
    in_numbers: bool = False  # search only the text's digit runs (the regex never leaves one)
    trim_url: bool = False
    shrink: bool = False  # when rejected, try the same match cut at an inner space


_TLD_HINT = re.compile(rf"\.(?:{_BARE_TLDS})(?![A-Za-z0-9-])", re.IGNORECASE)

# Priority order: a span taken by an earlier detector is never matched by a later one.
_DETECTORS = (
    _Detector("url", _SCHEME_URL, trim_url=True, gate=lambda t: "://" in t),
    _Detector("email", _EMAIL, gate=lambda t: "@" in t),
    _Detector("url", _WWW_URL, trim_url=True, gate=lambda t: "www." in t.lower()),
    _Detector("url", _BARE_URL, trim_url=True, gate=lambda t: _TLD_HINT.search(t) is not None),
    _Detector("wechat", _WECHAT, group="id", check=_wechat_ok),
    _Detector("qq", _QQ, group="id", check=_qq_ok),
    _Detector("id_number", _ID_NUMBER, group="id", check=_id_ok, in_numbers=True),
    _Detector("card", _CARD, group="id", check=_card_ok, in_numbers=True),
    _Detector("phone", _PHONE, check=_phone_ok, in_numbers=True, shrink=True),
)
# Where the digit detectors look: a digit with the marks numbers are written with around it.
_NUMBER_RUN = re.compile(r"[+(]*\d[\d \-.()\u00a0]*")
# Full-width letters, digits and the marks inside addresses read as their ASCII twins, one
# character for one, so "１３８１２３４５６７８" or "ＱＱ：１２３４５６" are caught too. The
# full-width comma and other sentence punctuation (，！；) are not folded: "，19岁" must not
# continue a number.
_FOLD = {ord(wide): ord(wide) - 0xFEE0 for wide in
         "０１２３４５６７８９＠＋－．＿：／（）＃＝＆％？"
         "ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ"}
_FOLD[0x3000] = 0x20
_FOLDABLE = re.compile("[" + "".join(map(chr, _FOLD)) + "]")


class Redactor:
    """Replaces the PII kinds it was built for with ``[KIND]`` placeholders."""

    def __init__(self, kinds: set[str] | frozenset[str] | list[str] | tuple[str, ...]):
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown redaction kinds: {', '.join(sorted(unknown))} "
                             f"(known: {', '.join(KINDS)})")
        self.kinds = frozenset(kinds)
        self._detectors = tuple(d for d in _DETECTORS if d.kind in self.kinds)

    def __bool__(self) -> bool:
        return bool(self._detectors)

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, kind) of what would be replaced, in text order."""
        if _FOLDABLE.search(text):
            text = text.translate(_FOLD)  # same length: the spans fit the original text
        taken: list[tuple[int, int, str]] = []
        runs = None
        for d in self._detectors:
            if d.gate is not None and not d.gate(text):
                continue
            if not d.in_numbers:
                _scan(d, text, 0, len(text), taken)
                continue
            if runs is None:
                runs = [m.span() for m in _NUMBER_RUN.finditer(text)]
            for start, end in runs:  # +2: the end lookaheads read two characters past a run
                _scan(d, text, start, min(len(text), end + 2), taken)
        taken.sort()
        return taken

    def redact(self, text: str) -> Redaction:
        if not self._detectors:
            return Redaction(text)
        spans = self.spans(text)
        if not spans:
            return Redaction(text)
        parts, counts, last = [], {}, 0
        for start, end, kind in spans:
            parts += [text[last:start], PLACEHOLDERS[kind]]
            counts[kind] = counts.get(kind, 0) + 1
            last = end
        parts.append(text[last:])
        return Redaction("".join(parts), counts)


    def redact_json(self, value):
        """(value with every string inside dicts and lists redacted, counts); keys kept."""
        counts: dict[str, int] = {}

        def walk(v):
            if isinstance(v, str):
                done = self.redact(v)
                for kind, n in done.counts.items():
                    counts[kind] = counts.get(kind, 0) + n
                return done.text
            if isinstance(v, dict):
                return {k: walk(x) for k, x in v.items()}
            if isinstance(v, list):
                return [walk(x) for x in v]
            return v

        return (walk(value) if self._detectors else value), counts


def _scan(d: _Detector, text: str, pos: int, endpos: int, taken: list) -> None:
    """Add d's accepted spans in text[pos:endpos] that overlap nothing taken yet."""
    while (m := d.pattern.search(text, pos, endpos)) is not None:
        found = m if d.check(text, m) else _shorter(d, text, m)
        if found is None:  # another candidate may start inside the rejected one
            pos = m.start() + 1
            continue
        pos = found.end()
        start, end = found.span(d.group)
        if d.trim_url:
            end = _trim_url(text, start, end)
        if not any(start < e and s < end for s, e, _ in taken):
            taken.append((start, end, d.kind))


def _shorter(d: _Detector, text: str, m: re.Match) -> re.Match | None:
    """For a rejected phone candidate, the longest one ending at a space inside it that
    passes: "0845 2814032 16" (a number, then an age) gives "0845 2814032"."""
    if not d.shrink:
        return None
    cut = m.end()
    while (cut := text.rfind(" ", m.start(), cut)) > m.start():
        shorter = d.pattern.fullmatch(text, m.start(), cut)
        if shorter is not None and d.check(text, shorter):
            return shorter
    return None


def _trim_url(text: str, start: int, end: int) -> int:
    """Drop trailing sentence punctuation; keep a ")" that closes a "(" inside the URL."""
    while end > start and text[end - 1] in _URL_TRAILING:
        if text[end - 1] == ")" and text.count("(", start, end) >= text.count(")", start, end):
            break
        end -= 1
    return end


def parse_kinds(value: str | list[str] | None) -> list[str] | None:
    """"email, phone" or a list -> sorted known kinds; "all" for every kind; None/empty/
    "off" -> None (redaction off). Raises ValueError naming an unknown kind."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    kinds = {k.strip().lower() for k in items if k and k.strip()}
    if not kinds or kinds == {"off"}:
        return None
    if "all" in kinds:
        kinds = (kinds - {"all"}) | set(KINDS)
    Redactor(kinds)  # validates
    return sorted(kinds, key=KINDS.index)
