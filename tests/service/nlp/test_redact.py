"""PII redaction: each kind in Chinese, English and mixed text, and the numbers it must leave."""

from __future__ import annotations

import pytest

from service.nlp.redact import KINDS, Redactor, id_checksum_ok, luhn_ok, parse_kinds

ALL = Redactor(set(KINDS))


def red(text: str, kinds=None) -> str:
    return (Redactor(set(kinds)) if kinds else ALL).redact(text).text


@pytest.mark.parametrize("text, expected", [
    # email
    ("email me at john.doe+news@example.com.", "email me at [EMAIL]."),
    ("我的邮箱是zhang.san@qq.com，有事联系", "我的邮箱是[EMAIL]，有事联系"),
    ("send it to li_na@163.com 谢谢", "send it to [EMAIL] 谢谢"),
    ("EMAIL: tonytong7015@yahoo.com.cn可以了解更多", "EMAIL: [EMAIL]可以了解更多"),
    # phone: Chinese mobile, with and without separators, +86, glued to Chinese text
    ("电话13812345678谢谢", "电话[PHONE]谢谢"),
    ("手机：138-1234-5678", "手机：[PHONE]"),
    ("call me on 138 1234 5678 tonight", "call me on [PHONE] tonight"),
    ("+86 138 1234 5678", "[PHONE]"),
    ("(+86)13812345678 有问题找我", "[PHONE] 有问题找我"),
    ("加我 8613812345678", "加我 [PHONE]"),
    # phone: international, US style, Chinese landlines and hotlines, UK trunk numbers
    ("call +1 (415) 555-2671 now", "call [PHONE] now"),
    ("office: (415) 555-2671", "office: [PHONE]"),
    ("toll free 1-800-555-0199.", "toll free [PHONE]."),
    ("+44 20 7946 0958", "[PHONE]"),
    ("客服热线：010-59222799，分机3037", "客服热线：[PHONE]，分机3037"),
    ("酒店电话0755 8765 4321", "酒店电话[PHONE]"),
    ("售后:4007002000)", "售后:[PHONE])"),
    ("携程订房电话：800-820-6666", "携程订房电话：[PHONE]"),
    ("Call 09058094507 from land line", "Call [PHONE] from land line"),
    ("Call Free 0800 1956669 or text back", "Call Free [PHONE] or text back"),
    # a rejected candidate is cut at a space (a number, then an age) ...
    ("Help? 0845 2814032 16 after 1st", "Help? [PHONE] 16 after 1st"),
    # ... and a unit after a number written as a phone number does not save it
    ("很+86-167-8506-4759条腿", "很[PHONE]条腿"), ("电话 178-0653-7196 人员", "电话 [PHONE] 人员"),
    ("电影152 4379 6924，19岁", "电影[PHONE]，19岁"),
    ("PO Box39822 W111WX 445-728-7311", "PO Box39822 W111WX [PHONE]"),
    # full-width digits and letters
    ("电话１３８１２３４５６７８谢谢", "电话[PHONE]谢谢"), ("ＱＱ：１２３４５６７", "ＱＱ：[QQ]"),
    # url
    ("see https://example.com/a?b=1).", "see [URL])."),
    ("see (https://en.wikipedia.org/wiki/Foo_(bar)) ok", "see ([URL]) ok"),
    ("访问我的网站www.smallstonesoft.com。", "访问我的网站[URL]。"),
    ("参考http://cache.tianya.cn/content/1/140524.shtml学术争鸣", "参考[URL]学术争鸣"),
    ("去example.com.cn下载驱动", "去[URL]下载驱动"),
    ("go to gaytextbuddy.com. TXT ONE", "go to [URL]. TXT ONE"),
    ("LOG ONTO HTTP://WWW.URAWINNER.COM NOW", "LOG ONTO [URL] NOW"),
    ("on staff.science.nus.edu.sg/~teaching/pc1323 ok", "on [URL] ok"),
    # wechat: the keyword stays, the handle goes
    ("微信：abc_123 联系", "微信：[WECHAT] 联系"),
    ("兼职日结300，加V abc123 了解详情", "兼职日结300，加V [WECHAT] 了解详情"),
    ("wx: abc-123", "wx: [WECHAT]"),
    ("我的微信号是 wxid_k2j3h4", "我的微信号是 [WECHAT]"),
    ("add me on WeChat ID: johnsmith", "add me on WeChat ID: [WECHAT]"),
    ("vx同号 13812345678", "vx同号 [PHONE]"),
    ("微信 13812345678", "微信 [WECHAT]"),
    # qq
    ("QQ群 123456789", "QQ群 [QQ]"),
    ("有问题联系QQ：383161223（注明：当当）", "有问题联系QQ：[QQ]（注明：当当）"),
    ("qq号：12345", "qq号：[QQ]"),
    ("my qq is 1234567890", "my qq is [QQ]"),
    ("扣扣 87654321", "扣扣 [QQ]"),
    # id_number and card
    ("身份证号11010519491231002X请核对", "身份证号[ID]请核对"),
    ("ID 310101198512315673 attached", "ID [ID] attached"),
    ("卡号 6222 0212 3456 7890 128 户名张三", "卡号 [CARD] 户名张三"),
    ("card 4111-1111-1111-1111 exp 12/28", "card [CARD] exp 12/28"),
    ("amex 378282246310005", "amex [CARD]"),
    ("Your 2003 4111 1111 1111 1111 statement", "Your 2003 [CARD] statement"),
    ("这4111 1111 1111 1111个", "这[CARD]个"),
    # mixed: several kinds in one code-mixed message
    ("兼职 contact wx: abc_123 or 13812345678, details at www.jobs.cn 😀",
     "兼职 contact wx: [WECHAT] or [PHONE], details at [URL] 😀"),
])
def test_each_kind_is_replaced(text, expected):
    assert red(text) == expected


@pytest.mark.parametrize("text", [
    # prices and amounts
    "¥299 包邮", "only $1,299.00 today", "价格 1399 元", "年收入15000000000元", "£2000 prize",
    "营收 13800000000 元",
    # years, dates, times, ranges
    "2026年的计划", "2026-11-20 09:30 见", "12:30 开会", "2009-6-13 15:05:04 您的订单已出库",
    "1917--1960年那段史实", "2005-2008全国优秀儿童读物",
    # order numbers and counts up to 10 digits
    "订单号 123456", "订单号：1421846721我11月6号下的订单", "order #4491950 was late",
    "3000000 users signed up", "we have 13000000 members",
    # versions, decimals, short codes, model numbers
    "upgrade to v1.2.3 please", "pi is 3.14159265", "Txt WIN to 82468", "ThinkPad SL400 2743-PPC",
    # ordinary words near keywords
    "my wechat account got banned", "微信支付很方便", "QQ音乐 2026 版", "加微信了吗",
    "what a great app.", "log.in failed", "call.me later",
    # digit runs that fail their checksums
    "身份证 110105194912310021", "card 4111 1111 1111 1112", "流水号 6222021234567890123",
    "卡号 6222 0212 3456 7890 123",
])
def test_ordinary_text_is_left_alone(text):
    assert red(text) == text


def test_counts_per_kind_and_placeholders_only_for_enabled_kinds():
    text = "mail a@b.com or b@c.org, call 13812345678, see www.x.com"
    done = ALL.redact(text)
    assert done.counts == {"email": 2, "phone": 1, "url": 1}
    only_email = Redactor({"email"}).redact(text)
    assert only_email.text == "mail [EMAIL] or [EMAIL], call 13812345678, see www.x.com"
    assert only_email.counts == {"email": 1 * 2}
    assert Redactor(set()).redact(text).text == text and not Redactor(set())


def test_a_disabled_kind_falls_through_to_the_next_one():
    # With wechat off, the number after 微信 is still a phone number.
    assert red("微信 13812345678", {"phone"}) == "微信 [PHONE]"
    # With url off, an email is still an email and the bare domain stays.
    assert red("x@example.com and example.com", {"email"}) == "[EMAIL] and example.com"


def test_no_placeholder_is_matched_again_and_redaction_is_idempotent():
    text = "wx: abc_123 电话 13812345678 mail a@b.cn https://a.cn/x"
    once = ALL.redact(text).text
    assert ALL.redact(once).text == once and ALL.redact(once).counts == {}


def test_metadata_strings_are_redacted_and_counted():
    meta = {"email": "li@163.com", "n": 3, "tags": ["call 13812345678", None], "ok": True}
    out, counts = ALL.redact_json(meta)
    assert out == {"email": "[EMAIL]", "n": 3, "tags": ["call [PHONE]", None], "ok": True}
    assert counts == {"email": 1, "phone": 1}


def test_id_checksum():
    assert id_checksum_ok("11010519491231002X") and id_checksum_ok("11010519491231002x")
    assert id_checksum_ok("310101198512315673")
    assert not id_checksum_ok("110105194912310021")
    assert not id_checksum_ok("1101051949123100")
    # A valid checksum but an impossible birth date is not an ID either.
    assert red("110105194913310020") == "110105194913310020"


def test_luhn():
    for good in ("4111111111111111", "5555555555554444", "378282246310005",
                 "6222021234567890128", "6212 3456 7890 1232"):
        assert luhn_ok(good), good
    for bad in ("4111111111111112", "6222021234567890123"):
        assert not luhn_ok(bad), bad
    # A Luhn-valid run that no card network starts with (1, 7, 8, 9, 0) stays.
    assert luhn_ok("1234567812345670") and red("1234567812345670") == "1234567812345670"


def test_parse_kinds():
    assert parse_kinds("phone, email") == ["email", "phone"]
    assert parse_kinds("all") == list(KINDS)
    assert parse_kinds(None) is None and parse_kinds("") is None and parse_kinds([]) is None
    assert parse_kinds("off") is None
    with pytest.raises(ValueError, match="unknown redaction kinds: bogus"):
        parse_kinds("email,bogus")
