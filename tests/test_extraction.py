import json
import re
from pathlib import Path

import pytest
from conftest import itertext_apart

from glossary_spider.extraction import extract_page
from glossary_spider.replica import ReplicaSite, themes

SAMPLES = Path(__file__).parent / "samples"
BASE = "https://term.greeks.live"
SEED_URL = f"{BASE}/definition/international-legal-cooperation/"


@pytest.mark.parametrize("sample", sorted(p.stem for p in SAMPLES.glob("*.html")))
def test_golden_sample(sample):
    expected = json.loads((SAMPLES / f"{sample}.json").read_text(encoding="utf-8"))
    extraction = extract_page((SAMPLES / f"{sample}.html").read_bytes(), expected["url"])
    got = json.loads(json.dumps({"record": extraction.record, "errors": extraction.errors}, ensure_ascii=False))
    assert got == {"record": expected["record"], "errors": expected["errors"]}


@pytest.fixture(scope="module")
def seed():
    return extract_page((SAMPLES / "seed-definition.html").read_bytes(), SEED_URL).record


def test_seed_page_text(seed):
    # The three paragraphs of shared/seeds/international-legal-cooperation.md, after its second heading.
    paragraphs = seed["body_text"].split("\n\n")
    assert paragraphs[0] == "International Legal Cooperation"
    assert len(paragraphs) == 4
    assert paragraphs[1].startswith("International legal cooperation refers to the efforts between nations")
    assert paragraphs[2].startswith("Through bodies like the Financial Action Task Force")
    assert paragraphs[3].endswith("the potential for regulatory-induced instability.")
    assert seed["title"] == "International Legal Cooperation"
    assert seed["summary"] == ("Efforts between nations to coordinate regulatory standards and share data to "
                               "prevent financial crime and market risks.")
    assert (seed["published"], seed["modified"]) == ("2026-03-18T22:05:46+00:00", "2026-03-18T22:06:23+00:00")
    assert (seed["author"], seed["categories"], seed["language"]) == ("Greeks.live", ["Definition"], "en-US")
    assert seed["word_count"] == len(seed["body_text"].split())
    for chrome in ("Recent Posts", "Discover More", "Glossary", "Meaning", "Published", "©", "knot"):
        assert chrome not in seed["body_text"]


def test_seed_page_related_links_in_order(seed):
    related = [link for link in seed["links"] if link["kind"] == "related"]
    assert [link["anchor_text"] for link in related] == [
        "Legal Technology", "Cross-Border Capital Flows", "Cross-Border Legal Risk Management",
        "Financial Action Task Force", "Regulatory Compliance Gaps", "Cross-Border Market Access",
        "Compliance Burden", "Decentralized Exchange Legal Frameworks",
    ]
    assert related[3]["to_url"] == f"{BASE}/definition/financial-action-task-force/"
    assert [link["position"] for link in related] == list(range(8))


def test_seed_page_discover_more(seed):
    items = [link for link in seed["links"] if link["kind"] == "discover_more"]
    assert len(items) == 9
    assert items[1]["to_url"] == f"{BASE}/term/trading-venue-regulation/"
    assert items[1]["summary"] == ("Trading Venue Regulation standardizes the structural rules and risk management "
                                   "protocols necessary to ensure the integrity of digital asset markets.")
    assert items[8]["anchor_text"] == "Legal Risk Management"
    assert all(item["summary"] and not item["summary"].startswith("Meaning") for item in items)


def test_seed_page_json_ld(seed):
    jsonld = [item for item in seed["structured_data"] if item["syntax"] == "json-ld"]
    assert [item["type"] for item in jsonld] == ["BreadcrumbList", "Article"]
    crumbs = jsonld[0]["data"]["itemListElement"]
    assert [c["name"] for c in crumbs] == ["Home", "Definition", "International Legal Cooperation"]
    assert jsonld[1]["data"]["dateModified"] == "2026-03-18T22:06:23+00:00"


@pytest.mark.parametrize("path", [
    "/definition/international-legal-cooperation/", "/term/legal-risk-management/", "/area/funding/",
    "/area/options/resource/1/",
])
def test_every_theme_gives_the_same_record(path):
    site = ReplicaSite(200)
    records = []
    for theme in ("classic", "block", "plain"):
        doc = site.document(path, BASE)
        doc["theme"] = theme
        records.append(extract_page(themes.render(doc).encode(), BASE + path).record)
    keys = ("title", "summary", "body_text", "sections", "links", "published", "author", "categories", "content_hash")
    for record in records[1:]:
        assert {k: record[k] for k in keys} == {k: records[0][k] for k in keys}


def test_a_page_read_without_following_gives_the_same_record_and_no_links_to_follow():
    body = (SAMPLES / "seed-definition.html").read_bytes()
    crawled, reparsed = extract_page(body, SEED_URL), extract_page(body, SEED_URL, follow=False)
    assert reparsed.record == crawled.record and reparsed.errors == crawled.errors
    assert reparsed.outlinks == [] and f"{BASE}/term/legal-risk-management/" in crawled.outlinks


@pytest.mark.parametrize("body, content_type, shortcut", [
    ("<p>plain ⎊ UTF-8</p>".encode(), "text/html; charset=utf-8", True),
    ("  \n<p>trimmed ⎊</p>\n\t ".encode(), None, True),
    ("\x1c<p>a separator str.strip() takes</p>\x1f".encode(), "text/html", False),
    ("\u00a0<p>a no-break space at the start</p>\u2003".encode(), "text/html; charset=utf-8", False),
    ("\x00 <p>NUL first</p>\x00".encode(), "text/html; charset=utf-8", False),
    ("\ufeff<p>byte order mark</p>".encode(), "text/html; charset=utf-8", False),
    ("<p>caf\u00e9 declared Latin-1, written in UTF-8</p>".encode(), "text/html; charset=iso-8859-1", True),
    ("<p>caf\u00e9 really Latin-1</p>".encode("latin-1"), "text/html; charset=iso-8859-1", False),
    ("<p>caf\u00e9 invalid UTF-8</p>".encode("latin-1"), "text/html; charset=utf-8", False),
    (b'<meta charset="utf-16"><p>declared in the page</p>', None, False),
    ("<p>x</p>".encode("utf-16"), "text/html; charset=utf-16", False),
    (b"   \n ", "text/html", True),
    (b"<b>" * 60_000, "text/html", False),
], ids=["utf-8", "white space", "separators", "unicode spaces", "NUL", "BOM", "latin-1 as utf-8", "latin-1",
        "invalid", "declared utf-16", "utf-16", "blank", "too many tags"])
def test_a_body_read_as_utf8_is_parsed_as_its_decoded_text_would_be(body, content_type, shortcut):
    from glossary_spider.extraction.page import _cap_markup, _markup, _utf8_markup, decode

    fast = _utf8_markup(body, content_type)
    assert (fast is not None) == shortcut  # the cases the shortcut takes, and those it leaves to decode()
    assert fast is None or fast == _markup(_cap_markup(decode(body, content_type))[0])


@pytest.mark.parametrize("body, content_type", [
    ("<html><title>Vega ⎊ Term</title><p>Written little-endian, no byte order mark</p>".encode("utf-16-le"),
     "text/html; charset=utf-16"),
    ("<html><title>Vega ⎊ Term</title><p>Written big-endian, and labelled so</p>".encode("utf-16-be"),
     "text/html; charset=UTF-16BE"),
    ("<html><title>Vega ⎊ Term</title><p>Written big-endian, no byte order mark</p>".encode("utf-16-be"),
     "text/html; charset=utf-16"),
    ("\ufeff<html><title>Vega ⎊ Term</title><p>Big-endian with its byte order mark</p>".encode("utf-16-be"),
     "text/html; charset=utf-16"),
    ("<html><title>Vega ⎊ Term</title><p>UTF-8, the label wrong</p>".encode(), "text/html; charset=utf-16"),
    ("<html><title>Vega ⎊ Term</title><p>UTF-8, the label wrong</p>".encode(), "text/html; charset=unicode"),
    ("<html><title>Vega ⎊ Term</title><p>Written little-endian, no byte order mark</p>".encode("utf-32-le"),
     "text/html; charset=utf-32"),
    ("<html><title>Vega ⎊ Term</title><p>Written big-endian, no byte order mark</p>".encode("utf-32-be"),
     "text/html; charset=utf-32"),
], ids=["utf-16 is little-endian", "utf-16be", "utf-16 in big-endian", "byte order mark", "not utf-16 at all",
        "not unicode (utf-16le) at all",
        "utf-32 little-endian", "utf-32 big-endian"])
def test_a_page_labelled_utf16_is_read_as_a_browser_reads_it(body, content_type):
    """w3lib decodes the label utf-16 big-endian, where the WHATWG Encoding Standard (every browser) reads it
    little-endian: such a page was archived as CJK nonsense with no title, and replaced a good version.
    UTF-32 without a byte order mark, little-endian, was archived as ten thousand U+FFFD."""
    record = extract_page(body, BASE + "/term/vega/", content_type).record
    assert record["title"] == "Vega"
    assert record["body_text"].split(", ")[0] in ("Written little-endian", "Written big-endian",
                                                  "Big-endian with its byte order mark", "UTF-8")


@pytest.mark.parametrize("declaration, encoding", [
    ('<meta charset="utf-16">', "utf-8"),
    ('<meta http-equiv="Content-Type" content="text/html; charset=UTF-16LE">', "utf-8"),
    ('<meta charset="utf-16be">', "utf-8"),
    ('<meta charset="utf-32">', "utf-8"),
    ('<meta charset="utf-16">', "cp1252"),
    ('<meta charset="x-user-defined">', "cp1252"),
], ids=["utf-16", "http-equiv utf-16le", "utf-16be", "utf-32", "utf-16 on windows-1252", "x-user-defined"])
def test_a_meta_charset_is_read_as_the_html_standard_reads_it(declaration, encoding):
    """A ``<meta>`` found by reading the bytes as ASCII cannot name UTF-16 or UTF-32, in which it would hold NUL
    bytes: the HTML Standard reads such a label as UTF-8 (and x-user-defined as windows-1252). The page was
    decoded as UTF-16 and archived as CJK nonsense, with no title and no JSON-LD. Where the body is not
    UTF-8 either, its bytes decide, as for a page that declares nothing."""
    page = (SAMPLES / "seed-definition.html").read_text(encoding="utf-8").replace('<meta charset="utf-8">', declaration)
    page = page.replace("International legal cooperation refers", "Caf\u00e9 \u201cna\u00efve\u201d cooperation refers")
    if encoding == "cp1252":  # the glossary's own mark, which windows-1252 has not
        page = page.replace("\u238a", "&#9098;").replace("\u00b7", "&middot;")
    record = extract_page(page.encode(encoding), SEED_URL).record
    assert record["title"] == "International Legal Cooperation"
    assert "Caf\u00e9 \u201cna\u00efve\u201d cooperation refers to the" in record["body_text"], record["body_text"][:80]
    assert [i["type"] for i in record["structured_data"] if i["syntax"] == "json-ld"] == ["BreadcrumbList", "Article"]


@pytest.mark.parametrize("label, encoding, text", [
    ("iso-8859-8-i", "iso8859_8", "גידור דלתא הוא שיטה לניהול סיכון של אופציות."),
    ("koi8-ru", "koi8_u", "Дельта-хеджирование опционов: Україна."),
    ("dos-874", "cp874", "การป้องกันความเสี่ยงเดลต้า"),
    ("x-gbk", "gbk", "期权德尔塔对冲是管理风险的方法。"),
    ("cn-big5", "big5", "德爾塔對沖是管理風險的方法。"),
    ("x-mac-cyrillic", "mac_cyrillic", "Дельта-хеджирование опционов."),
    ("unicode", "utf-16-le", "Caf\u00e9 \u201cna\u00efve\u201d \u2014 \u20ac100"),
    ("ucs-2", "utf-16-le", "Caf\u00e9 \u201cna\u00efve\u201d \u2014 \u20ac100"),
    ("csunicode", "utf-16-le", "Caf\u00e9 \u201cna\u00efve\u201d \u2014 \u20ac100"),
], ids=["iso-8859-8-i", "koi8-ru", "dos-874", "x-gbk", "cn-big5", "x-mac-cyrillic", "unicode", "ucs-2", "csunicode"])
@pytest.mark.parametrize("where", ["header", "meta"])
def test_a_charset_label_of_the_encoding_standard_is_read_as_browsers_read_it(label, encoding, text, where):
    """Labels the WHATWG Encoding Standard gives (and browsers read) that Python's codecs do not know were
    dropped: the page was read in a guessed encoding (Hebrew as "âéãåø", Chinese as "ÆÚÈ¨"), or, UTF-16
    labelled ``unicode``, refused as binary content."""
    from glossary_spider.extraction.page import looks_binary

    page = (SAMPLES / "seed-definition.html").read_text(encoding="utf-8").replace("\u238a", "&#9098;")
    page = page.replace("\u00a9", "&copy;").replace("\u00b7", "&middot;")  # which some of these encodings have not
    page = page.replace("International legal cooperation refers", text + " International legal cooperation refers")
    if where == "meta":
        page, content_type = page.replace('<meta charset="utf-8">', f'<meta charset="{label}">'), "text/html"
        encoding = "utf-8" if encoding == "utf-16-le" else encoding  # as a meta cannot say UTF-16: see above
    else:
        page, content_type = page.replace('<meta charset="utf-8">', ""), f"text/html; charset={label}"
    body = page.encode(encoding)
    record = extract_page(body, SEED_URL, content_type).record
    assert record["title"] == "International Legal Cooperation"
    assert f"{text} International legal cooperation refers" in record["body_text"], record["body_text"][:80]
    assert not looks_binary(body, content_type)


@pytest.mark.parametrize("declared", ["", '<meta charset="windows-1252">'])
def test_a_page_that_declares_no_charset_is_read_in_the_encoding_its_bytes_show(declared):
    """A page in windows-1252 that declares nothing in its first 4 KiB (a header without charset, its meta
    further down or missing) was read as UTF-8, every curly quote, dash and accent archived as U+FFFD; read
    as the windows-1250 a detector may guess for a few accents, "naïve" would be "naďve"."""
    padding = "<!-- " + "x" * 5000 + " -->"  # past the 4 KiB where a declaration is looked for
    page = (f"<html><head>{padding}{declared}<title>Unrealized P&amp;L \u2014 Definition</title></head><body>"
            "<h1>Unrealized P&amp;L \u2014 Definition</h1><p>Meaning \u2014 the \u201cpaper\u201d gain it\u2019s "
            "worth before the position is closed: a na\u00efve desk in Espa\u00f1a or S\u00e3o Paulo marks it "
            "\u00e0 la cr\u00e8me, each day.</p></body></html>")
    record = extract_page(page.encode("cp1252"), BASE + "/definition/unrealized-pl/", "text/html").record
    assert record["title"] == "Unrealized P&L \u2014 Definition"
    assert ("the \u201cpaper\u201d gain it\u2019s worth before the position is closed: a na\u00efve desk in "
            "Espa\u00f1a or S\u00e3o Paulo marks it \u00e0 la cr\u00e8me") in record["body_text"], record["body_text"]


@pytest.mark.parametrize("stray", [b"\xff", b"\x92", b"\xe2\x80"], ids=["stray byte", "windows-1252", "cut"])
def test_a_page_that_declares_no_charset_and_is_utf8_but_for_a_few_bytes_is_read_as_utf8(stray):
    """A page that declares nothing, in UTF-8 but for one byte that is not (a stray ``\\xff``, a windows-1252
    apostrophe pasted into one paragraph, a character cut in two), was read whole in the code page a detector
    guessed (windows-1250, cp866, mac_roman), every accent and mark mojibake; browsers read it as UTF-8, the
    byte a U+FFFD."""
    page = (SAMPLES / "seed-definition.html").read_text(encoding="utf-8").replace('<meta charset="utf-8">', "")
    page = page.replace("International legal cooperation refers", "Caf\u00e9 \u201cna\u00efve\u201d cooperation refers")
    body = page.encode().replace(b"the efforts between", b"the effort" + stray + b"s between", 1)
    record = extract_page(body, SEED_URL, "text/html").record
    assert record["title"] == "International Legal Cooperation"
    assert "Caf\u00e9 \u201cna\u00efve\u201d cooperation refers to the effort\ufffds between" in record["body_text"]
    assert record["summary"] == ("Efforts between nations to coordinate regulatory standards and share data to "
                                 "prevent financial crime and market risks.")


def test_a_page_whose_first_64_kib_are_ascii_is_read_in_the_encoding_of_its_text():
    """The encoding was guessed from the page's first 64 KiB: all scripts, so ASCII, read as windows-1252,
    and a Cyrillic page was archived as "Ïðèâåò"."""
    script = "<script>" + "var x = 1;\n" * 8000 + "</script>"
    page = (f"<html><head><title>Glossary</title>{script}</head><body><h1>Глоссарий</h1><p>Опцион \u2014 это "
            "право, но не обязанность, купить или продать актив по заранее оговорённой цене.</p></body></html>")
    record = extract_page(page.encode("cp1251"), BASE + "/definition/option/", "text/html").record
    assert "Опцион \u2014 это право, но не обязанность" in record["body_text"], record["body_text"][:80]


def test_template_churn_is_not_a_change():
    site = ReplicaSite(200)
    doc = site.document("/term/legal-risk-management/", BASE)
    before = extract_page(themes.render(doc).encode(), BASE + doc["path"]).record
    doc["asset_version"] += 1  # new script and stylesheet URLs, a different <style> block
    after = extract_page(themes.render(doc).encode(), BASE + doc["path"]).record
    assert before["content_hash"] == after["content_hash"]


def _json_canonical(value):
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


EVERY_CHARACTER = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)


@pytest.mark.parametrize("value", [
    EVERY_CHARACTER,
    {"b": [1, None, True, False, ""], "a": {"\U0001f600": 1, "z": 2, "é": 3, "\uffff": 4, "A": 5}},
    {"big": 2**64 - 1, "bigger": 2**64, "least": -2**63, "less": -2**63 - 1},
    {"@type": "Product", "rating": 4.5, "tiny": 1.5e-7, "huge": 1e16, "whole": 2.0, "neg": -0.0},
    [float("nan"), float("inf"), float("-inf")],
], ids=["every character", "keys", "integers", "floats", "non-finite"])
def test_the_content_hash_reads_json_as_json_writes_it(value):
    from glossary_spider.fastjson import canonical, needs_json

    assert canonical(value) == _json_canonical(value)
    assert canonical(value, plain=not needs_json(value)) == _json_canonical(value)


def test_the_content_hash_passes_over_the_json_ld_a_site_rewrites_on_its_own():
    from glossary_spider import churn
    from glossary_spider.extraction.page import content_hash

    def record(data):
        return {"title": "Vega", "summary": None, "body_text": "Vega is a Greek.", "sections": [], "links": [],
                "structured_data": [{"syntax": "json-ld", "data": data}]}

    stamped = {"@type": "Article", "headline": "Vega", "dateModified": "2026-01-01",
               "@graph": [{"schema:dateModified": "2026-01-01", "commentCount": 3,
                           "author": {"name": "G", "http://schema.org/aggregateRating": {"ratingValue": 4}}}]}
    restamped = {"@type": "Article", "headline": "Vega", "dateModified": "2026-11-29",
                 "@graph": [{"schema:dateModified": "2026-11-29", "commentCount": 4,
                             "author": {"name": "G", "http://schema.org/aggregateRating": {"ratingValue": 5}}}]}
    assert content_hash(record(stamped)) == content_hash(record(restamped))
    assert content_hash(record(stamped), churning=True) != content_hash(record(restamped), churning=True)
    assert content_hash(record({**stamped, "headline": "Vanna"})) != content_hash(record(stamped))
    assert content_hash(record({**stamped, "updateModified": 1})) != content_hash(record(stamped))

    steady, removed = churn.split(stamped)
    assert steady == {"@type": "Article", "headline": "Vega", "@graph": [{"author": {"name": "G"}}]}
    assert sorted(name for name, _ in removed) == ["commentCount", "dateModified", "http://schema.org/aggregateRating",
                                                   "schema:dateModified"]
    assert stamped["@graph"][0]["commentCount"] == 3  # the record's own value is left as it was
    plain = {"@type": "Thing", "name": ["a", {"b": 1}]}
    assert churn.split(plain)[0] is plain
    deep = {"dateModified": 1}
    for _ in range(5000):  # as deep as a JSON reader allows, and deeper
        deep = {"x": [deep]}
    assert churn.split(deep)[1] == [["dateModified", 1]]


def test_a_lone_surrogate_breaks_the_content_hash_as_json_does():
    from glossary_spider.fastjson import canonical

    with pytest.raises(UnicodeEncodeError):
        _json_canonical({"name": "\ud800"})
    with pytest.raises(UnicodeEncodeError):
        canonical({"name": "\ud800"}, plain=True)


@pytest.mark.parametrize("text", [
    '{"@type": "Article", "headline": "Vega ⎊ Term", "position": 3, "rating": 4.5, "big": 18446744073709551615}',
    '{"id": 18446744073709551616, "small": -9223372036854775809}',  # past 64 bits: orjson makes them floats
    '[1e400, -1e400, 1.5e-7, -0.0, 1E5]',
    '{"a": NaN, "b": Infinity}',
    '{"text": "line\nbreak and a raw\ttab", "escaped": "\\u0001 \\ud83d\\ude00"}',
    '{"lone": "\\ud800"}',
    '{"a": 1, "b": 2, "a": 3}',
    ' \n[{"nested": [[[{"deep": null}]]]}, true, false] ',
], ids=["plain", "big integers", "floats", "non-finite", "control characters", "lone surrogate", "duplicate keys",
        "nesting"])
def test_json_ld_is_read_as_json_reads_it(text):
    from glossary_spider.fastjson import dumps, loads

    # repr tells 2**64 from 2.0**64, which compare equal
    assert repr(loads(text)) == repr(json.loads(text, strict=False))
    if "\\ud800" not in text:
        assert repr(loads(dumps(loads(text)))) == repr(json.loads(text, strict=False))


def test_json_ld_with_an_integer_past_pythons_digits_or_a_byte_order_mark_is_read():
    """A number of 5,000 digits made Python's int() refuse it (ValueError, "Exceeds the limit (4300 digits)"),
    and the block was "not valid JSON", lost; so was one an editor began with a byte order mark."""
    body = ('<html><head><script type="application/ld+json">{"@type": "Product", "name": "Huge", "count": '
            + "9" * 5000 + ', "price": 1e999, "ok": 12}</script><script type="application/ld+json">\n\ufeff'
            '{"@type": "Thing", "name": "Marked"}</script></head><body><h1>Huge</h1><p>Words.</p></body></html>')
    extraction = extract_page(body.encode(), BASE + "/definition/huge/")
    assert [i["data"] for i in extraction.record["structured_data"] if i["syntax"] == "json-ld"] == [
        {"@type": "Product", "name": "Huge", "count": None, "price": None, "ok": 12},  # past a float: null
        {"@type": "Thing", "name": "Marked"}]
    assert extraction.errors == []


@pytest.mark.parametrize("depth", [100, 300, 600, 1100])
def test_deeply_nested_json_ld_is_read_or_refused_and_never_breaks_the_page(depth):
    # 300 and 600: past what orjson writes (254 levels), short of what json reads; 1,100: past both.
    from glossary_spider.storage.staging import prepare, staged_rows
    from glossary_spider.storage.writer import page_rows

    nested = "[" * depth + "1" + "]" * depth
    body = (f'<html><head><script type="application/ld+json">{{"@type": "Article", "x": {nested}}}</script>'
            f'</head><body><h1>Deep</h1><p>{"Words of the page. " * 20}</p></body></html>').encode()
    extraction = extract_page(body, SEED_URL, "text/html; charset=utf-8")
    json_ld = [item["data"] for item in extraction.record["structured_data"] if item["syntax"] == "json-ld"]
    if depth < 1000:
        assert json_ld == [json.loads(f'{{"@type": "Article", "x": {nested}}}')] and not extraction.errors
    else:
        assert json_ld == [] and extraction.errors[0]["error"] == "JSON-LD block 1 is nested too deeply to read"
    assert staged_rows(prepare(extraction.record).rows) == page_rows(extraction.record)


def test_windows_1252_page_is_decoded_from_its_declared_charset():
    html = (SAMPLES / "definition-windows-1252.html").read_bytes()
    assert b"charset=\"windows-1252\"" in html and b"\x93" in html  # a curly quote, as cp1252 encodes it
    record = extract_page(html, f"{BASE}/definition/asset-eligibility/").record
    assert "“Asset Eligibility”" in record["body_text"]
    assert "⎊" in record["body_text"]  # written as &#9098;, which cp1252 cannot hold


def test_a_charset_from_the_http_header_wins():
    html = '<html><head><meta charset="utf-8"></head><body><h1>Caf\u00e9</h1><p>Fa\u00e7ade</p></body></html>'
    record = extract_page(html.encode("cp1252"), f"{BASE}/x/", "text/html; charset=windows-1252").record
    assert record["title"] == "Café"


def test_broken_json_ld_costs_only_itself():
    html = (SAMPLES / "definition-jsonld-broken.html").read_bytes()
    extraction = extract_page(html, f"{BASE}/definition/compliance-burden/")
    assert [(e["stage"], e["error"]) for e in extraction.errors] == [("json-ld", "JSON-LD block 2 is not valid JSON")]
    types = [i["type"] for i in extraction.record["structured_data"] if i["syntax"] == "json-ld"]
    assert types == ["BreadcrumbList", "Article"]


def test_graph_json_ld_stays_one_item_and_feeds_the_fields():
    sample = json.loads((SAMPLES / "definition-jsonld-graph.json").read_text())
    extraction = extract_page((SAMPLES / "definition-jsonld-graph.html").read_bytes(), sample["url"])
    jsonld = [i for i in extraction.record["structured_data"] if i["syntax"] == "json-ld"]
    assert len(jsonld) == 1 and jsonld[0]["type"] is None
    assert [n["@type"] for n in jsonld[0]["data"]["@graph"]] == ["WebPage", "Article", "BreadcrumbList", "Organization"]
    assert extraction.record["author"] == "Greeks.live"
    assert extraction.record["categories"] == ["Definition"]


@pytest.mark.parametrize(("description", "summary"), [
    ("<p>Meaning ⎊ Delta is the <strong>first</strong> derivative &amp; hedge ratio.</p> ⎊ Definition",
     "Delta is the first derivative & hedge ratio."),
    ("Meaning ⎊ Delta &amp; gamma &#8212; the pair&hellip; ⎊ Definition", "Delta & gamma — the pair…"),
    ("<p>Delta hedges.</p><p>Gamma<br>convexity.</p><script>track()</script>", "Delta hedges. Gamma convexity."),
    ("Meaning ⎊ Delta < 0.5 and P&L ⎊ Definition", "Delta < 0.5 and P&L"),
])
def test_a_summary_from_json_ld_is_its_text_as_a_reader_sees_it(description, summary):
    """With no meta description, the summary comes from JSON-LD, whose description may hold the post's HTML: it
    was archived with its tags and character references, and kept its "Meaning ⎊" before them."""
    ld = json.dumps({"@type": "Article", "headline": "Delta ⎊ Definition", "description": description})
    ld = ld.replace("</", "<\\/")  # as JSON in a page is written: "</script>" would end the block
    html = (f'<html><head><script type="application/ld+json">{ld}</script></head><body><main><h1>Delta</h1>'
            "<p>Delta is the rate of change of an option's price.</p></main></body></html>")
    assert extract_page(html.encode(), f"{BASE}/definition/delta/").record["summary"] == summary


HAND_MADE = """<!DOCTYPE html><html lang="de"><head><title>Vega Greek ⎊ Term ⎊ Greeks.live</title>
<link rel="canonical" href="/term/vega-greek/"></head><body>
<header><nav><a href="/">Home</a><a href="/category/term/">Terms</a></nav></header>
<div class="layout"><div class="col">
<h1>Vega Greek ⎊ Term</h1>
<p>Posted on 2026-02-03 by <a href="/author/x/">Someone</a></p>
<h2>Essence</h2><p>Vega measures <a href="/area/volatility/">volatility</a> exposure.</p>
<p><img src="/a.webp" alt="A long alt text that must never be body text"></p>
<ul><li><b>Long vega</b> gains when implied volatility rises.</li></ul>
<script>var x = "not text";</script>
</div><aside><h2>Popular</h2><ul><li><a href="/term/x/">X</a></li></ul></aside></div>
<footer><p>Footer text</p></footer></body></html>"""


def test_a_hand_made_layout_without_json_ld():
    record = extract_page(HAND_MADE.encode(), f"{BASE}/term/vega-greek/").record
    assert record["title"] == "Vega Greek"
    assert record["body_text"] == "Essence\n\nVega measures volatility exposure.\n\nLong vega gains when implied volatility rises."
    assert record["published"] == "2026-02-03"
    assert record["summary"] is None and record["categories"] is None and record["modified"] is None
    assert record["language"] == "de"
    assert record["canonical_url"] == f"{BASE}/term/vega-greek/"
    assert [(l["kind"], l["to_url"]) for l in record["links"]] == [("inline", f"{BASE}/area/volatility/")]
    assert [s["heading"] for s in record["sections"]] == ["Essence"]


def test_a_canonical_link_in_the_body_is_none_of_the_pages():
    """A ``<link rel=canonical>`` in a post's text (a comment, a pasted snippet) was the page's canonical URL, ahead
    of none or of the head's own; only the head's names it, as search engines read it."""
    article = ('<article><h1>Vega</h1><link rel="canonical" href="/definition/evil/?x=1"><p>Vega measures '
               "volatility exposure.</p></article>")
    for head, expected in (("", None), ('<link rel="canonical" href="/term/vega/">', f"{BASE}/term/vega/")):
        html = f"<html><head><title>Vega</title>{head}</head><body>{article}</body></html>"
        assert extract_page(html.encode(), f"{BASE}/term/vega/").record["canonical_url"] == expected


def test_a_page_of_another_type_still_gets_title_and_text():
    html = b"<html><body><main><h1>About</h1><p>Who we are.</p></main></body></html>"
    record = extract_page(html, f"{BASE}/about/").record
    assert (record["page_type"], record["slug"], record["title"], record["body_text"]) == (
        "other", None, "About", "Who we are.")


def test_links_to_urls_longer_than_scrapy_requests_are_not_recorded():
    """A link to a URL past 2,083 characters is one Scrapy never requests: recorded, a page of a few
    thousand of them grew the archive by three times the page. The others stay; a row says how many went."""
    long_path = "/definition/" + "a" * 2100 + "/"
    html = (f'<html><body><article><h1>Long links</h1><div class="entry-content"><p>Text about options.</p>'
            f'<p><a href="/area/volatility/">Volatility</a> <a href="{long_path}">Long</a> '
            f'<a href="{BASE}{long_path}x/">Longer</a></p></div></article></body></html>').encode()
    extraction = extract_page(html, f"{BASE}/definition/long-links/")
    assert [link["to_url"] for link in extraction.record["links"]] == [f"{BASE}/area/volatility/"]
    assert extraction.outlinks == [f"{BASE}/area/volatility/"]
    assert extraction.errors == [{"stage": "parse", "detail": None,
                                  "error": "page cut: 2 links to URLs longer than 2,083 characters not recorded"}]


def test_an_empty_page_yields_nulls_not_guesses():
    record = extract_page(b"", f"{BASE}/definition/empty/").record
    assert record["title"] is None and record["body_text"] is None and record["word_count"] == 0
    assert record["sections"] == [] and record["links"] == [] and record["structured_data"] == []


CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@pytest.mark.parametrize("written", ["\u009b31m", "&#x9b;31m", "&#27;[2J", "\x1b[2J"])
def test_control_characters_are_removed_however_the_markup_writes_them(written):
    html = (f'<html><head><meta name="description" content="Meaning ⎊ Vega{written} moves"></head>'
            f"<body><main><h1>Vega{written}</h1><p>Vega{written} measures volatility exposure.</p></main></body></html>")
    record = extract_page(html.encode(), f"{BASE}/term/vega/").record
    assert record["title"].startswith("Vega") and record["body_text"].startswith("Vega")
    assert not CONTROL.search(json.dumps(record, ensure_ascii=False))


@pytest.mark.parametrize("escaped", ["\\u001b[2J", "\\u009B31m", "\\r", "\\b"])
def test_control_characters_escaped_in_json_ld_are_removed(escaped):
    html = (f'<html><head><script type="application/ld+json">{{"@type": "Article", "headline": "Vega{escaped} x"}}'
            "</script></head><body><main><h1>Vega</h1><p>Vega measures volatility exposure.</p></main></body></html>")
    record = extract_page(html.encode(), f"{BASE}/term/vega/").record
    headline = record["structured_data"][0]["data"]["headline"]
    assert headline.startswith("Vega") and headline.endswith(" x") and not CONTROL.search(headline)


# The invisible characters a reader never sees as characters, written each way a page may write them.
INVISIBLE = ["\u00ad", "&shy;", "&#173;", "&#xAD;", "\u2060", "&#8288;", "&#x2060;", "\ufeff", "&#65279;", "&#xfeff;"]


@pytest.mark.parametrize("written", INVISIBLE)
def test_soft_hyphens_and_word_joiners_leave_words_whole(tmp_path, written):
    """"deriv&shy;atives" reads as "derivatives": so it is archived, and found by search."""
    from glossary_spider.query import connect, search
    from glossary_spider.storage import Archive, Fetch

    jsonld = written.replace("&", "\\u0026") if written.startswith("&") else written
    html = (f'<html><head><script type="application/ld+json">{{"@type": "Article", "headline": "Gam{jsonld}ma"}}'
            f"</script></head><body><main><h1>Gam{written}ma</h1><p>Deriv{written}atives hedge gam{written}ma "
            f'exposure.</p><ul><li><a href="/term/vega/">Ve{written}ga</a></li></ul></main></body></html>')
    url = f"{BASE}/term/gamma/"
    extraction = extract_page(html.encode(), url)
    record = extraction.record
    assert record["title"] == "Gamma"
    assert record["body_text"] == "Derivatives hedge gamma exposure."
    assert [link["anchor_text"] for link in record["links"]] == ["Vega"]
    assert record["structured_data"][0]["data"]["headline"] in ("Gamma", f"Gam{written}ma")
    with Archive(tmp_path / "a.db") as archive:
        archive.store_pages(archive.start_run("crawl", {}), [(Fetch(url, 200, html.encode()), extraction)])
    assert [hit["url"] for hit in search(connect(tmp_path / "a.db"), "derivatives")] == [url]


@pytest.mark.parametrize("written", ["\u200b", "&#8203;", "&#x200B;", "&zwnj;", "\u200d", "&#8205;", "&ZeroWidthSpace;",
                                     "&NegativeThinSpace;", "&NegativeVeryThinSpace;"])
def test_a_zero_width_character_inside_a_latin_word_leaves_it_whole_and_other_scripts_as_written(tmp_path, written):
    """Between two letters of a script that spaces its words, a zero-width space, non-joiner or joiner is a
    stray (pasted from an editor: "liqui&#8203;dation" split the word in search). Where it has work to do,
    it stays: it parts Thai words, shapes Persian, makes one emoji of two."""
    from glossary_spider.query import connect, search
    from glossary_spider.storage import Archive, Fetch

    others = ("Thai \u0e01\u0e32\u0e23\u200b\u0e04\u0e49\u0e32, "
              "Persian \u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645, \U0001f468\u200d\U0001f469.")
    html = (f"<html><body><main><h1>Liqui{written}dation</h1><p>Watch liqui{written}dation cascades "
            f"in 1{written}000 books. {others}</p></main></body></html>")
    url = f"{BASE}/term/liquidation/"
    extraction = extract_page(html.encode(), url)
    assert extraction.record["title"] == "Liquidation"
    assert extraction.record["body_text"] == f"Watch liquidation cascades in 1000 books. {others}"
    with Archive(tmp_path / "a.db") as archive:
        archive.store_pages(archive.start_run("crawl", {}), [(Fetch(url, 200, html.encode()), extraction)])
    assert [hit["url"] for hit in search(connect(tmp_path / "a.db"), "liquidation cascades")] == [url]


def test_a_related_list_keeps_its_links_when_one_leads_nowhere_recordable():
    """A link too long to record, or to an e-mail address, is passed over; the list's other links stay related."""
    too_long = "/definition/" + "x" * 2100 + "/"
    html = ("<html><body><main><h1>Gamma</h1><p>Gamma is the rate of change of delta.</p><ul>"
            f'<li><a href="/definition/delta/">Delta</a></li><li><a href="{too_long}">Long</a></li>'
            '<li><a href="mailto:desk@greeks.live">Desk</a></li><li><a href="/term/vega/">Vega</a></li>'
            "</ul></main></body></html>")
    extraction = extract_page(html.encode(), f"{BASE}/definition/gamma/")
    assert [(link["kind"], link["to_url"], link["position"]) for link in extraction.record["links"]] == [
        ("related", f"{BASE}/definition/delta/", 0), ("related", f"{BASE}/term/vega/", 1)]
    assert "1 links to URLs longer than 2,083 characters not recorded" in extraction.errors[0]["error"]


@pytest.mark.parametrize(("odd", "expected"), [
    ('<li><a href="/area/vega/">Vega area</a></li>', [("inline", f"{BASE}/area/vega/", "Vega area")]),
    ('<li><a href="https://learn.greeks.live/course/greeks/">Greeks course</a></li>',
     [("inline", "https://learn.greeks.live/course/greeks/", "Greeks course")]),
    ('<li><a href="./sub-page/">Sub page</a></li>', [("inline", f"{BASE}/definition/gamma/sub-page/", "Sub page")]),
    ("<li></li>", []),
    ('<li><a href="/definition/theta/"><img src="/theta.webp" alt="Theta"></a></li>',
     [("related", f"{BASE}/definition/theta/", None)]),
    ('<li><a href="/definition/theta/">Theta</a><ul><li><a href="/definition/rho/">Rho</a></li></ul></li>',
     [("related", f"{BASE}/definition/theta/", "Theta"), ("related", f"{BASE}/definition/rho/", "Rho")]),
], ids=["area", "other-host", "sub-page", "empty", "image", "nested"])
def test_a_related_list_with_one_odd_item_keeps_all_its_links(odd, expected):
    """The seed's related list with one item that is no link to a post (an area's, another site's, a page under
    this one, an empty item) was taken for navigation: none of its links was recorded, related or inline. A
    link in a list nested in an item was lost. Its posts' links stay related, the odd one is inline."""
    html = ('<html><body><main><h1>Gamma</h1><p>Gamma is the rate of change of delta.</p><ul class="related-posts">'
            f'<li><a href="/definition/delta/">Delta</a></li>{odd}<li><a href="/term/vega/">Vega</a></li>'
            "</ul></main></body></html>")
    record = extract_page(html.encode(), f"{BASE}/definition/gamma/").record
    assert [(link["kind"], link["to_url"], link["anchor_text"]) for link in record["links"]] == [
        ("related", f"{BASE}/definition/delta/", "Delta"), *expected, ("related", f"{BASE}/term/vega/", "Vega")]
    assert record["body_text"] == "Gamma is the rate of change of delta."


def test_links_resolve_against_a_base_href_as_a_browser_resolves_them():
    html = ('<html><head><base href="/definition/foo"></head><body><main><h1>Gamma</h1><p>Gamma is the rate of '
            'change of delta: <a href="baz/">baz</a>, <a href="../top/">top</a>, <a href="\\term\\vega\\">vega'
            "</a>.</p></main></body></html>")
    extraction = extract_page(html.encode(), f"{BASE}/definition/gamma/")
    expected = [f"{BASE}/definition/baz/", f"{BASE}/top/", f"{BASE}/term/vega/"]
    assert [link["to_url"] for link in extraction.record["links"]] == expected
    assert extraction.outlinks == expected


def test_a_definitions_heading_that_is_a_link_is_still_a_heading():
    """On a definition or a term a heading is the page's own, a link or not: its text heads a section and its
    link is inline. Elsewhere (an area's posts, a category page) a heading that is a link lists a post."""
    html = ("<html><body><main><h1>Funding ⎊ Definition</h1><h2>Funding</h2><p>Funding moves between longs and "
            'shorts.</p><h2><a href="/definition/funding-rate/">Funding Rate</a></h2><p>The rate follows the '
            "premium index.</p></main></body></html>")
    record = extract_page(html.encode(), f"{BASE}/definition/funding/").record
    assert [s["heading"] for s in record["sections"]] == ["Funding", "Funding Rate"]
    assert record["body_text"] == ("Funding\n\nFunding moves between longs and shorts.\n\nFunding Rate\n\n"
                                   "The rate follows the premium index.")
    assert [(link["kind"], link["to_url"]) for link in record["links"]] == [
        ("inline", f"{BASE}/definition/funding-rate/")]
    area = extract_page(html.replace("Definition", "Area").encode(), f"{BASE}/area/funding/").record
    assert [(link["kind"], link["to_url"]) for link in area["links"]] == [
        ("listing", f"{BASE}/definition/funding-rate/")]


@pytest.mark.parametrize("wrapped", [False, True], ids=["link-in-heading", "heading-in-link"])
def test_a_heading_in_a_link_is_read_as_a_link_in_a_heading(wrapped):
    """A link around a heading (``<a href><h3>T</h3></a>``, a block theme's cards) was recorded nowhere: an
    area's posts were no listing and their titles body text, a Discover More item and its summary were lost, a
    term's heading kept no link. It is read as a link inside the heading is."""
    def heading(level, href, text):
        if wrapped:
            return f'<a href="{href}"><h{level} class="wp-block-post-title">{text}</h{level}></a>'
        return f'<h{level} class="wp-block-post-title"><a href="{href}">{text}</a></h{level}>'

    posts = "".join(f'<li>{heading(3, f"/definition/{slug}/", slug.title())}<div class="wp-block-post-excerpt">'
                    f"<p>Meaning ⎊ {slug.title()} in one line.</p></div></li>" for slug in ("delta", "gamma", "rho"))
    area = ("<html><body><main><h1>Greeks</h1><h2>Context</h2><p>The Greeks measure an option's sensitivities.</p>"
            f'<ul class="wp-block-post-template">{posts}</ul></main></body></html>')
    record = extract_page(area.encode(), f"{BASE}/area/greeks/").record
    assert record["body_text"] == "Context\n\nThe Greeks measure an option's sensitivities."
    assert [(link["kind"], link["to_url"], link["anchor_text"], link["summary"]) for link in record["links"]] == [
        ("listing", f"{BASE}/definition/{slug}/", slug.title(), f"{slug.title()} in one line.")
        for slug in ("delta", "gamma", "rho")]

    term = ("<html><body><main><h1>Vega ⎊ Term</h1><h2>Essence</h2><p>Vega measures exposure to volatility.</p>"
            f'{heading(2, "/area/options/", "Origin")}<p>It came from options desks.</p><section><h2>Discover More'
            f'</h2><div class="discover-item">{heading(3, "/definition/theta/", "Theta")}<p>Meaning ⎊ Decay of an '
            "option's value.</p></div></section></main></body></html>")
    record = extract_page(term.encode(), f"{BASE}/term/vega/").record
    assert [(s["heading"], s["text"]) for s in record["sections"]] == [
        ("Essence", "Vega measures exposure to volatility."), ("Origin", "It came from options desks.")]
    assert [(link["kind"], link["to_url"], link["anchor_text"], link["summary"]) for link in record["links"]] == [
        ("inline", f"{BASE}/area/options/", "Origin", None),
        ("discover_more", f"{BASE}/definition/theta/", "Theta", "Decay of an option's value.")]


def test_post_cards_whose_title_sits_in_an_entry_header_are_a_listing():
    """Classic WordPress archives put each card's title in ``<header class="entry-header">``: the header was taken
    for chrome, so a category page had no listing at all, its excerpts in the body. A header after the title
    that holds a heading that is a link is the card's; the site's header, before the title, is still chrome."""
    def card(slug, level=2):
        return (f'<article class="post type-post"><header class="entry-header"><h{level} class="entry-title"><a '
                f'href="/definition/{slug}/" rel="bookmark">{slug.title()}</a></h{level}></header><div class='
                f'"entry-summary"><p>'
                f'Meaning ⎊ {slug.title()} in one line.</p></div><footer class="entry-footer"><span class="cat-links">'
                'Posted in <a href="/category/definition/" rel="category tag">Definition</a></span></footer></article>')

    html = ('<html><body><header id="masthead" class="site-header"><p class="site-title"><a href="/">Greeks.live</a>'
            '</p><h2><a href="/about/">About</a></h2></header><main id="main"><header class="page-header"><h1 class='
            f'"page-title">Category: Definition</h1></header>{"".join(map(card, ("delta", "gamma", "rho")))}</main>'
            "</body></html>")
    record = extract_page(html.encode(), f"{BASE}/category/definition/").record
    assert (record["title"], record["body_text"], record["sections"]) == ("Category: Definition", None, [])
    assert [(link["kind"], link["to_url"], link["anchor_text"], link["summary"]) for link in record["links"]] == [
        ("listing", f"{BASE}/definition/{slug}/", slug.title(), f"{slug.title()} in one line.")
        for slug in ("delta", "gamma", "rho")]

    essence = "Vega measures how much an option's price moves when implied volatility moves by one point. " * 4
    term = (f"<html><body><main><h1>Vega ⎊ Term</h1><h2>Essence</h2><p>{essence}</p><section class="
            f'"discover-more"><h2>Discover More</h2>{card("theta", 3)}</section></main></body></html>')
    record = extract_page(term.encode(), f"{BASE}/term/vega/").record
    assert record["body_text"] == f"Essence\n\n{essence.strip()}"
    assert [(link["kind"], link["to_url"], link["summary"]) for link in record["links"]] == [
        ("discover_more", f"{BASE}/definition/theta/", "Theta in one line.")]


def test_a_listings_posts_dates_and_authors_are_theirs_not_the_pages():
    """An area whose posts show each its date and author took the first post's as its own ``published`` and
    ``author`` (areas show none). A meta line in a listed post's card is the post's; the page's own stays."""
    facets = "".join(f"<h2>{facet}</h2><p>The {facet.lower()} of Vega is the pricing of convexity in decentralized "
                     "venues and where it breaks down.</p>" for facet in ("Context", "Risk", "Model"))
    plain = "".join(
        f'<div class="post-item"><h3><a href="/definition/{slug}/">{slug.title()}</a></h3><p class="meta">Published: '
        f'<time datetime="2025-0{i}-01T00:00:00+00:00">2025</time> · By Jane Roe</p><p>Meaning ⎊ {slug.title()} in '
        "one line.</p></div>" for i, slug in enumerate(("delta", "gamma", "rho"), 1))
    block = "".join(
        f'<li class="wp-block-post"><h2 class="wp-block-post-title"><a href="/term/{slug}/">{slug.title()}</a></h2>'
        f'<div class="wp-block-post-date"><time datetime="2026-02-0{i}T12:00:00+00:00">February {i}, 2026</time>'
        '</div><div class="wp-block-post-author-name"><a rel="author" href="/author/jane-roe/">Jane Roe</a></div>'
        f'<div class="wp-block-post-excerpt"><p>Meaning ⎊ {slug.title()} in one line.</p></div></li>'
        for i, slug in enumerate(("delta", "gamma", "rho"), 1))
    for items, post in ((plain, "definition"), (f'<ul class="wp-block-post-template">{block}</ul>', "term")):
        html = f'<html><body><div id="content"><h1>Vega</h1>{facets}{items}</div></body></html>'
        record = extract_page(html.encode(), f"{BASE}/area/vega/").record
        assert (record["published"], record["modified"], record["author"]) == (None, None, None)
        assert record["body_text"].startswith("Context\n\nThe context of Vega") and "Jane" not in record["body_text"]
        assert [(link["kind"], link["to_url"], link["summary"]) for link in record["links"]] == [
            ("listing", f"{BASE}/{post}/{slug}/", f"{slug.title()} in one line.") for slug in ("delta", "gamma", "rho")]
        own = html.replace("<h1>Vega</h1>", '<h1>Vega</h1><p class="meta">Published: <time datetime="2026-01-05">'
                                            "January 5, 2026</time> · By Greeks.live</p>")
        record = extract_page(own.encode(), f"{BASE}/area/vega/").record
        assert (record["published"], record["author"]) == ("2026-01-05", "Greeks.live")


def test_a_listed_posts_read_more_link_is_the_posts_not_the_body():
    """A block theme's query loop ends each post's excerpt with a "Read more" link to it: the area's body ended
    with "Read more" once a post, and each was an inline link beside the post's listing link. A paragraph of
    nothing but links to the post just listed is that post's."""
    def post(slug):
        return (f'<li class="wp-block-post"><figure class="wp-block-post-featured-image"><a href="/term/{slug}/">'
                f'<img src="/wp-content/uploads/{slug}.webp" alt="A long alt text"></a></figure><h2 class='
                f'"wp-block-post-title"><a href="/term/{slug}/">{slug.title()}</a></h2><div class="wp-block-post-'
                f'excerpt"><p class="wp-block-post-excerpt__excerpt">Meaning ⎊ {slug.title()} in one line. </p><p '
                f'class="wp-block-post-excerpt__more-text"><a class="wp-block-post-excerpt__more-link" href="/term/'
                f'{slug}/">Read more</a></p></div></li>')

    html = ('<html><body><main class="wp-block-group"><h1 class="wp-block-query-title">Vega</h1><div class="wp-block-'
            'post-content"><h2>Context</h2><p>Vega describes the pricing of convexity in decentralized venues.</p>'
            '</div><div class="wp-block-query"><ul class="wp-block-post-template">'
            f'{"".join(map(post, ("delta", "gamma", "rho")))}</ul></div></main></body></html>')
    record = extract_page(html.encode(), f"{BASE}/area/vega/").record
    assert record["body_text"] == "Context\n\nVega describes the pricing of convexity in decentralized venues."
    assert [(link["kind"], link["to_url"], link["anchor_text"], link["summary"]) for link in record["links"]] == [
        ("listing", f"{BASE}/term/{slug}/", slug.title(), f"{slug.title()} in one line.")
        for slug in ("delta", "gamma", "rho")]


@pytest.mark.parametrize("pager", [
    '<nav class="navigation pagination" aria-label="Posts"><div class="nav-links">{numbers}</div></nav>',
    '<div class="nav-links">{numbers}</div>',
    '<nav class="wp-block-query-pagination" aria-label="Pagination"><div class="wp-block-query-pagination-numbers">'
    '{numbers}</div></nav>',
    # the_posts_pagination() as WordPress writes it, titled for screen readers; WP-PageNavi's "Page 1 of 9".
    '<nav class="navigation pagination" aria-label="Posts"><h2 class="screen-reader-text">Posts navigation</h2>'
    '<div class="nav-links">{numbers}</div></nav>',
    '<div class="wp-pagenavi"><span class="pages">Page 1 of 9</span>{numbers}</div>',
], ids=["classic", "nav-links", "query-pagination", "screen-reader-title", "page-of"])
def test_numbered_pagination_is_recorded_as_pagination(pager):
    """WordPress' numbered pagination shows the current page's number unlinked ("1 2 3 Next"), and core's query
    loop says "Next Page": neither was taken for a pager, and a category page's pages were no ``pagination``
    links."""
    numbers = ('<span aria-current="page" class="page-numbers current">1</span> <a class="page-numbers" href='
               '"/category/definition/page/2/"><span class="screen-reader-text">Page </span>2</a> <span class='
               '"page-numbers dots">…</span> <a class="page-numbers" href="/category/definition/page/9/">9</a> <a '
               'class="next page-numbers" href="/category/definition/page/2/">Next Page →</a>')
    posts = "".join(f'<div class="post-item"><h2><a href="/definition/{slug}/">{slug.title()}</a></h2><p>Meaning ⎊ '
                    f"{slug.title()} in one line.</p></div>" for slug in ("delta", "gamma", "rho"))
    html = (f'<html><body><main><h1>Category: Definition</h1>{posts}{pager.format(numbers=numbers)}</main>'
            "</body></html>")
    record = extract_page(html.encode(), f"{BASE}/category/definition/").record
    assert record["body_text"] is None
    assert [(link["kind"], link["to_url"], link["anchor_text"]) for link in record["links"]] == [
        *(("listing", f"{BASE}/definition/{slug}/", slug.title()) for slug in ("delta", "gamma", "rho")),
        ("pagination", f"{BASE}/category/definition/page/2/", "Page 2"),
        ("pagination", f"{BASE}/category/definition/page/9/", "9"),
        ("pagination", f"{BASE}/category/definition/page/2/", "Next Page →")]


def test_links_within_the_page_and_ruby_annotations_are_not_the_pages_text_or_links():
    """A footnote marker or a table of contents links to the page itself: no link between pages, and no
    related list of the page to itself. A ruby's reading (``<rt>``) ran into its word: "Vegaν"."""
    html = ('<html><body><main><h1>Vega</h1><ol><li><a href="#use">Use</a></li><li><a href="#risk">Risk</a></li>'
            '</ol><p>Desks hedge <ruby>Vega<rp>(</rp><rt>ν</rt><rp>)</rp></ruby> with spreads<sup><a href="#fn1">'
            '1</a></sup>.</p><p id="fn1">1. As <a href="/term/gamma/">gamma</a> is.</p><p>&#8203;</p></main>'
            "</body></html>")
    record = extract_page(html.encode(), f"{BASE}/definition/vega/").record
    assert record["body_text"] == "Desks hedge Vega with spreads.\n\n1. As gamma is."
    assert [(link["kind"], link["to_url"]) for link in record["links"]] == [("inline", f"{BASE}/term/gamma/")]
    # Its own URL with a fragment, however written, is the page too (they were links from it to itself); its
    # own URL without one is a link like any other.
    spelled = html.replace('href="#use"', 'href="/definition/vega/#use"').replace(
        'href="#risk"', f'href="{BASE}/definition/vega#risk"').replace('href="#fn1"', 'href="./#fn1"')
    assert spelled.count("vega/#") + spelled.count("vega#") + spelled.count("./#") == 3
    record = extract_page(spelled.encode(), f"{BASE}/definition/vega/").record
    assert [(link["kind"], link["to_url"]) for link in record["links"]] == [("inline", f"{BASE}/term/gamma/")]
    again = html.replace('<a href="/term/gamma/">', '<a href="/definition/vega/">')
    record = extract_page(again.encode(), f"{BASE}/definition/vega/").record
    assert [(link["kind"], link["to_url"]) for link in record["links"]] == [("inline", f"{BASE}/definition/vega/")]


def test_a_footnotes_mark_is_no_part_of_the_word_it_follows(tmp_path):
    """A footnote reference ran into its word: "premium<sup><a href="#fn1">1</a></sup>" was archived as
    "premium1", and search found no "premium". A mark that links within the page is left out; a superscript
    number linked nowhere (an exponent, as like as a mark) is kept, set apart."""
    from glossary_spider.query import connect, search
    from glossary_spider.storage import Archive, Fetch

    html = ('<html><body><main><h1>Rehypothecation</h1><p>The premium<sup><a href="#fn1">1</a></sup> is paid '
            'upfront, then rehypothecation<a href="#fn3"><sup>3</sup></a> follows, collateral<sup id="r2"><a '
            'href="/definition/rehypothecation/#fn2" class="footnote-ref">[2]</a></sup>is posted and variance is '
            'σ<sup>2</sup>, and margin<sup>[4]</sup> too; the 1<sup>st</sup> call is <a href="#fn1"><sup>see the '
            'notes</sup></a>.</p><ol><li id="fn1"><p>Paid by the <a href="/term/buyer/">buyer</a>. <a href="#r1">'
            "↩</a></p></li></ol></main></body></html>")
    url = f"{BASE}/definition/rehypothecation/"
    extraction = extract_page(html.encode(), url)
    record = extraction.record
    assert record["body_text"] == ("The premium is paid upfront, then rehypothecation follows, collateral is posted "
                                   "and variance is σ 2, and margin [4] too; the 1st call is see the notes.\n\n"
                                   "Paid by the buyer. ↩")
    assert [(link["kind"], link["to_url"]) for link in record["links"]] == [("inline", f"{BASE}/term/buyer/")]
    with Archive(tmp_path / "a.db") as archive:
        archive.store_pages(archive.start_run("crawl", {}), [(Fetch(url, 200, html.encode()), extraction)])
    for words in ("premium", "rehypothecation follows", "collateral"):
        assert [hit["url"] for hit in search(connect(tmp_path / "a.db"), words)] == [url]


def test_a_json_ld_type_that_is_not_a_name_is_stored_as_json_and_a_basic_date_as_a_date():
    """A type was stored as Python wrote it (True, {'@id': 'x'}); several as JSON with spaces, unlike SQLite's
    own JSON. A date written without hyphens (20240305) became midnight UTC, where a date stays a date."""
    blocks = [{"@type": True}, {"@type": {"@id": "x"}}, {"@type": ["Article", "NewsArticle"]}, {"@type": [["A"]]},
              {"@type": ["Article"], "datePublished": "20240305", "dateModified": "2024-W10-2"},
              {"@type": "WebPage", "datePublished": "2024-03-06-05:00", "dateModified": "2024-03-06Z"}]
    scripts = "".join(f'<script type="application/ld+json">{json.dumps(b)}</script>' for b in blocks)
    html = f"<html><head>{scripts}</head><body><main><h1>Vega</h1><p>Vega measures exposure.</p></main></body></html>"
    record = extract_page(html.encode(), f"{BASE}/term/vega/").record
    assert [item["type"] for item in record["structured_data"]] == [
        "true", '{"@id":"x"}', '["Article","NewsArticle"]', '["A"]', "Article", "WebPage"]
    assert (record["published"], record["modified"]) == ("2024-03-05", "2024-03-05")
    # A date with a time zone designator (XML Schema's) is a date: it was read as a time of day, 05:00.
    from glossary_spider.extraction.structured import to_utc

    assert [to_utc(v) for v in ("2024-03-06-05:00", "2024-03-06+0200", "2024-03-06Z", "2024-03-06T10:00-05:00")] == [
        "2024-03-06", "2024-03-06", "2024-03-06", "2024-03-06T15:00:00+00:00"]


def test_a_json_ld_type_listed_alone_is_one_name_in_every_node(tmp_path):
    """RankMath writes "@type": ["WebPage"]: in an @graph, jsonld_nodes gave its type as the JSON text
    '["WebPage"]', and `WHERE type = 'WebPage'` missed it (as it did a block's own, in jsonld_nodes only).
    Several types stay compact JSON, as structured_data writes them."""
    from conftest import rows

    from glossary_spider.storage import Archive, Fetch
    blocks = [{"@context": "https://schema.org", "@type": ["WebPage"], "name": "Vega"},
              {"@context": "https://schema.org", "@graph": [{"@type": ["WebPage"], "name": "Vega"},
                                                            {"@type": ["Article", "NewsArticle"]}, {"@type": "Person"},
                                                            {"name": "no type"}]}]
    scripts = "".join(f'<script type="application/ld+json">{json.dumps(b)}</script>' for b in blocks)
    html = f"<html><head>{scripts}</head><body><main><h1>Vega</h1><p>Vega measures exposure.</p></main></body></html>"
    url = f"{BASE}/term/vega/"
    extraction = extract_page(html.encode(), url)
    with Archive(tmp_path / "a.db") as archive:
        archive.store_pages(archive.start_run("crawl", {}), [(Fetch(url, 200, html.encode()), extraction)])
    assert rows(tmp_path / "a.db", "SELECT position, type FROM structured_data ORDER BY position") == [
        {"position": 0, "type": "WebPage"}, {"position": 1, "type": None}]
    assert rows(tmp_path / "a.db", "SELECT position, node, type FROM jsonld_nodes ORDER BY position, node") == [
        {"position": 0, "node": 0, "type": "WebPage"}, {"position": 1, "node": 0, "type": "WebPage"},
        {"position": 1, "node": 1, "type": '["Article","NewsArticle"]'}, {"position": 1, "node": 2, "type": "Person"},
        {"position": 1, "node": 3, "type": None}]


def test_a_page_follows_no_more_links_than_its_size_allows():
    """One link per 16 bytes of the page (the shortest a link with a text can be), at most 20,000, as it keeps
    (README, Limits a hostile site meets): the links to follow were cut at 5,000 whatever the page's size."""
    for count, most in ((5000, None), (25_000, 20_000)):
        links = "".join(f"<a href=/{n}>" for n in range(count))  # shorter than any real link
        html = f"<html><body><main><h1>Links</h1><p>Links to follow.</p><nav hidden>{links}</nav></main></body></html>"
        most = most or len(html) // 16
        extraction = extract_page(html.encode(), f"{BASE}/term/links/")
        assert len(extraction.outlinks) == most < count
        assert extraction.errors[0]["error"] == f"page cut: {count:,} links to follow, {most:,} followed"


@pytest.mark.parametrize(("body", "expected"), [
    # A <pre> keeps its lines and their indentation (less what all of them share).
    ("<p>The payoff of a long call, in Python:</p><pre>\n    def payoff(spot, strike):   \n        return "
     "max(spot - strike, 0)\n\n</pre><p>It is never negative.</p>",
     "The payoff of a long call, in Python:\n\ndef payoff(spot, strike):\n    return max(spot - strike, 0)\n\n"
     "It is never negative."),
    # A <details>' <summary> is a block of its own.
    ("<p>Vega measures exposure to volatility.</p><details><summary>Is vega ever negative?</summary><p>For a short "
     "option position, yes.</p></details>",
     "Vega measures exposure to volatility.\n\nIs vega ever negative?\n\nFor a short option position, yes."),
], ids=["pre", "summary"])
def test_a_block_is_read_as_a_reader_sees_it(body, expected):
    html = f"<html><body><main><h1>Vega</h1>{body}</main></body></html>"
    assert extract_page(html.encode(), f"{BASE}/term/vega/").record["body_text"] == expected


def test_a_page_without_control_characters_keeps_its_text_as_read():
    html = ('<html><head><script type="application/ld+json">{"headline": "Vega \\u00e9 \\/ &#8217;"}</script></head>'
            "<body><main><h1>Vega &#8217;s</h1><p>Vega\u00a0measures &#160;volatility.</p></main></body></html>")
    record = extract_page(html.encode(), f"{BASE}/term/vega/").record
    assert record["title"] == "Vega \u2019s"
    assert record["body_text"] == "Vega measures volatility."
    assert record["structured_data"][0]["data"]["headline"] == "Vega \u00e9 / &#8217;"


# Elements whose text mixes what folding and gathering must get right: comments, inline markup, tails,
# no-break and ideographic spaces, line and paragraph separators, a zero-width space (not white space).
TRICKY = ("<html><head><title> T </title></head><body><main><h1>Vega<!-- c -->\u00a0<b>ratio</b> </h1>"
          "<p>one  two\ttwo<br>three\u3000four\u2028five\u2029six\x1csev\u200ben</p><p>plain words here</p>"
          "<div> <span>a</span>  b<?pi x?>c <em>d\n e</em></div></main></body></html>")


@pytest.mark.parametrize("page", ["tricky", *sorted(p.stem for p in SAMPLES.glob("*.html"))])
def test_element_text_is_read_as_itertext_reads_it_with_blocks_apart(page):
    from lxml import etree

    from glossary_spider.extraction.memo import PageMemo
    from glossary_spider.extraction.page import _markup, _parse, decode
    from glossary_spider.extraction.tree import fold, raw_text, text_head

    body = TRICKY.encode() if page == "tricky" else (SAMPLES / f"{page}.html").read_bytes()
    root, _ = _parse(_markup(decode(body)), BASE + "/")
    memo = PageMemo(BASE + "/")
    for element in root.iter(etree.Element):
        raw = itertext_apart(element)
        assert raw_text(element) == raw
        assert memo.text(element) == fold(raw) == " ".join(raw.split())
        head = text_head(element, 64)
        assert head == fold(raw) if len(fold(raw)) <= 64 else fold(raw).startswith(head) and len(head) > 64


def test_links_resolve_as_link_url_resolves_them_whatever_page_resolved_them_first(monkeypatch):
    """Links from the root or with a host of their own are resolved once while pages of one site follow
    each other; each must still resolve as on the page that asks, and a site of unique links starts the
    cache again."""
    from glossary_spider.extraction import memo as memos
    from glossary_spider.urls import link_url

    hrefs = ["/term/vega", "/area/options/", "http://other.example/x", "https://other.example/x", "//cdn.example/y",
             "vega/", "../area/", "?p=2", "#top", "", " /term/vega ", "mailto:a@b.c", "HTTP://Other.Example/x"]
    pages = ["https://term.greeks.live/definition/theta/", "https://term.greeks.live/area/options/resource/2/",
             "http://127.0.0.1:8000/term/gamma/", "https://term.greeks.live/definition/theta/"]
    for page in pages:
        memo = memos.PageMemo(page)
        for href in hrefs:
            assert memo.url(href) == link_url(href, page), (page, href)

    monkeypatch.setattr(memos, "MAX_SITE_URLS", 10)
    site = "https://bounded.example/"
    memo = memos.PageMemo(site)
    for n in range(25):
        assert memo.url(f"/p/{n}") == memos.PageMemo(site).url(f"/p/{n}") == f"{site}p/{n}"
    assert len(memos.PageMemo(site).site_urls) <= 10

    # A hostile page's URLs of megabytes normalise as any other, and no cache keeps them; the page's
    # links to them are not recorded (past MAX_URL, Scrapy would never request them).
    from glossary_spider import urls

    long, cached = "/p/" + "x" * 100_000, urls._normalize_absolute.cache_info().currsize
    assert urls.normalize_url(long, site) == f"{site}p/{'x' * 100_000}"
    memo = memos.PageMemo(site + "y" * 100_000)
    assert memo.url(long) is None and memo.url("http://a.example/" + long) is None and memo.too_long == 2
    assert long not in memo.site_urls and urls._normalize_absolute.cache_info().currsize == cached
    classified = urls._classify.cache_info().currsize
    assert urls.classify(f"{site}term/{'x' * 100_000}/").page_type == "term"
    assert urls._classify.cache_info().currsize == classified
    assert list(memos._SITE) == [site]


def test_a_block_that_is_not_json_is_read_as_extruct_reads_it():
    from extruct.jsonld import JsonLdExtractor

    from glossary_spider.extraction.page import _markup, _parse
    from glossary_spider.extraction.structured import extract_structured_data

    blocks = [
        '// the article\n{"@type": "Article", "name": "Vega"}',
        '  <!-- the article -->\n{"@type": "Article", "name": "Vega"}',
        '{"@type": "Article", /* the name */ "name": "Vega // not a comment"}',
        '[{"@type": "Article"}, {}, {"@type": "Person"} // the author\n]',
        '{"@type": "Article", "name": "Vega",}',
        '{"@type": "Article" "name": "Vega"}',  # not JSON either way
        '// only a comment',
    ]
    for block in blocks:
        body = f'<html><head><script type="application/ld+json">{block}</script></head><body><p>x</p></body></html>'
        root, _ = _parse(_markup(body), BASE + "/")
        items, errors = extract_structured_data(root, BASE + "/")
        jsonld = [item["data"] for item in items if item["syntax"] == "json-ld"]
        try:
            expected = JsonLdExtractor().extract_items(root)
        except ValueError as exc:
            assert jsonld == [] and [e["detail"] for e in errors] == [f"{type(exc).__name__}: {exc}"], block
        else:
            assert jsonld == expected and errors == [], block


def test_a_block_whose_last_line_is_a_comment_is_read_where_extruct_loses_it():
    """jstyleson, which extruct's second try at a block uses, leaves a last "//" comment that no line break ends:
    a CDATA wrapper's "//]]>", a plugin's signature after the JSON. extruct loses such a block whole."""
    from glossary_spider.extraction.page import _markup, _parse
    from glossary_spider.extraction.structured import extract_structured_data

    article = '{"@context": "https://schema.org", "@type": "Article", "headline": "Vega"}'
    for block, found in [(f"//<![CDATA[\n{article}\n//]]>", [{"@type": "Article"}]),
                         (f"{article}\n// generated by a plugin", [{"@type": "Article"}]),
                         ('"a string" // not an item', [])]:
        body = f'<html><head><script type="application/ld+json">{block}</script></head><body><p>x</p></body></html>'
        root, _ = _parse(_markup(body), BASE + "/")
        items, errors = extract_structured_data(root, BASE + "/")
        jsonld = [{"@type": item["data"]["@type"]} for item in items if item["syntax"] == "json-ld"]
        assert (jsonld, errors) == (found, []), block


def test_opengraph_is_read_as_extruct_reads_it():
    from extruct.opengraph import OpenGraphExtractor

    from glossary_spider.extraction.page import _markup, _parse, decode
    from glossary_spider.extraction.structured import extract_structured_data

    prefixed = ('<html prefix="og: http://ogp.me/ns# fb: http://ogp.me/ns/fb#"><head prefix="my: http://x.test/ns#">'
                '<meta property="og:title" content="Vega"><meta property="fb:app_id" content="1">'
                '<meta property="my:thing" content="2"><meta property="other:x" content="3">'
                '<meta property="article:tag" content="greeks"></head><body><p>x</p></body></html>')
    # Every prefix extruct knows, each on a page of its own.
    known = [f'<html><head><meta property="{prefix}:x" content="1"></head><body></body></html>'.encode()
             for prefix in ("og", "music", "video", "article", "book", "profile", "product", "fb")]
    pages = [prefixed.encode(), *known, b"<html><body><p>no head</p></body></html>",
             *(path.read_bytes() for path in sorted(SAMPLES.glob("*.html")))]
    for body in pages:
        root, _ = _parse(_markup(decode(body)), BASE + "/")
        items, _ = extract_structured_data(root, BASE + "/")
        opengraph = [item["data"] for item in items if item["syntax"] == "opengraph"]
        assert opengraph == list(OpenGraphExtractor().extract_items(root))


def test_microdata_within_its_bounds_is_read_as_extruct_reads_it():
    """The bounds on microdata (items, their nesting, properties, itemref, what values read) leave a real
    page's alone, however much of it there is."""
    from extruct.w3cmicrodata import MicrodataExtractor

    from glossary_spider.extraction.page import _markup, _parse
    from glossary_spider.extraction.structured import MICRODATA_MAX_DEPTH, extract_structured_data

    thing = 'itemscope itemtype="https://schema.org/Thing"'
    product = ('<li itemprop="itemListElement" itemscope itemtype="https://schema.org/Product" itemref="brand">'
               '<a itemprop="url" href="/p/{n}"><span itemprop="name">Option {n}</span></a><img itemprop="image" '
               'src="/i/{n}.png"><div itemprop="offers" itemscope itemtype="https://schema.org/Offer">'
               '<meta itemprop="price" content="{n}.5"><span itemprop="priceCurrency">USD</span></div>'
               '<div itemprop="aggregateRating" itemscope itemtype="https://schema.org/AggregateRating">'
               '<span itemprop="ratingValue">4</span></div></li>')
    pages = [
        '<body itemscope itemtype="https://schema.org/WebPage"><p id="brand" itemprop="brand">Acme</p>'
        '<article itemprop="mainEntity" itemscope itemtype="https://schema.org/Article"><h1 itemprop="headline">'
        'Vega</h1><div itemprop="articleBody">' + "<p>Vega measures <b>volatility</b>.</p>" * 2000 + "</div>"
        '</article><ul itemprop="about" itemscope itemtype="https://schema.org/ItemList">'
        + "".join(product.format(n=n) for n in range(200)) + "</ul></body>",
        f"<body><div {thing}>" + f'<div itemprop="p" {thing}><span itemprop="n">x</span>' * (MICRODATA_MAX_DEPTH - 1)
        + "</div>" * MICRODATA_MAX_DEPTH + "</body>",
        f'<body><div {thing}><span itemprop="a">alone</span></div><div {thing}></div><p itemscope>text</p></body>',
    ]
    for body in pages:
        root, _ = _parse(_markup(f"<html>{body}</html>"), BASE + "/")
        items, errors = extract_structured_data(root, BASE + "/")
        assert errors == []
        expected = MicrodataExtractor().extract_items(root, base_url=BASE + "/")
        assert [item["data"] for item in items if item["syntax"] == "microdata"] == expected != []


@pytest.mark.parametrize("head", ["<title>Implied Volatility | Acme Options Wiki</title>",
                                  "<title>Implied Volatility - acme options wiki</title>",
                                  '<meta property="og:title" content="Implied Volatility — Acme Options Wiki">'])
def test_a_title_without_a_heading_loses_the_sites_name(head):
    """Without an <h1>, a page's title came from og:title or <title> with the site's name still on it
    ("Implied Volatility | Acme Options Wiki"): only the glossary's own suffix was taken off. The site names
    itself in og:site_name."""
    markup = (f'<html><head><meta property="og:site_name" content="Acme Options Wiki">{head}</head><body><main>'
              "<p>Implied volatility is the volatility that an option's market price implies.</p></main></body></html>")
    assert extract_page(markup.encode(), "https://term.greeks.live/term/iv/").record["title"] == "Implied Volatility"
    home = markup.replace(head, "<title>Acme Options Wiki</title>")  # the site's name alone is the title
    assert extract_page(home.encode(), "https://term.greeks.live/term/iv/").record["title"] == "Acme Options Wiki"
    subtitled = markup.replace(head, "<title>Interview: Acme Options Wiki</title>")  # a colon heads a subtitle
    title = extract_page(subtitled.encode(), "https://term.greeks.live/term/iv/").record["title"]
    assert title == "Interview: Acme Options Wiki"


@pytest.mark.parametrize(("h1", "path", "title"), [
    ("Area: <span>Vega</span>", "/area/vega/", "Vega"),  # WordPress core's archive title since 5.5
    ('<span class="color-accent">Category:</span> Vega', "/category/vega/", "Vega"),  # Twenty Twenty's
    ("Area: Vega ⎊ Area ⎊ Resource 3", "/area/vega/resource/3/", "Vega"),  # the page's own kind, in any markup
    ("Definition: Vega", "/definition/vega/", "Vega"),
    ("Category: Vega", "/category/vega/", "Category: Vega"),  # no markup sets the name apart
    ("Interview: <em>Bob</em>", "/area/vega/", "Interview: Bob"),
])
def test_an_archive_titles_word_for_its_kind_is_no_part_of_its_title(h1, path, title):
    """WordPress titles an archive "Area: Vega", the taxonomy's name before the term's: "Area: Vega" was archived as
    the area's title, which the contract says is the term's own name."""
    markup = (f"<html><body><main><h1>{h1}</h1><h2>Context</h2><p>Vega measures how an option's price responds to "
              "implied volatility.</p></main></body></html>")
    assert extract_page(markup.encode(), f"{BASE}{path}").record["title"] == title


def test_text_either_side_of_a_line_break_a_cell_or_a_block_is_not_run_together():
    """The words either side of a <br>, of table cells, of nested list items and of the paragraphs of a quote
    were joined ('Address:1 Main StreetZug', 'TierMarginOne5%'): the word count was 30, and a search for
    'Zug' found nothing."""
    markup = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Joined ⎊ Definition</title></head>
    <body><article><h1>Joined ⎊ Definition</h1><div class="entry-content"><h2>Joined</h2>
    <p>Intro paragraph of ordinary prose that explains the margin tiers used by the venue.</p>
    <p>Address:<br>1 Main Street<br>Zug</p>
    <table><tr><th>Tier</th><th>Margin</th></tr><tr><td>One</td><td>5%</td></tr></table>
    <ul><li>Outer<ul><li>Inner A</li><li>Inner B</li></ul></li></ul>
    <blockquote><p>Quote one.</p><p>Quote two.</p></blockquote>
    <h2>Second<br>Heading</h2><p>Closing <a href="/definition/x/">para</a><b>graph</b>.</p></div></article>
    </body></html>"""
    record = extract_page(markup.encode(), "https://term.greeks.live/definition/joined/").record
    assert record["body_text"].split("\n\n") == [
        "Joined", "Intro paragraph of ordinary prose that explains the margin tiers used by the venue.",
        "Address: 1 Main Street Zug", "Tier Margin One 5%", "Outer Inner A Inner B", "Quote one. Quote two.",
        "Second Heading", "Closing paragraph."]
    assert record["word_count"] == 37
    assert [section["heading"] for section in record["sections"]] == ["Joined", "Second Heading"]


def test_text_marked_hidden_is_not_the_pages_text():
    """An element with the hidden attribute is shown to no reader; its text was archived and found by search.
    The text after it is shown, and kept."""
    markup = b"""<html><head><title>Hidden</title></head><body><article><h1>Hidden</h1><div class="entry-content">
    <p>Shown words here, for the reader to read in full.</p><p hidden>HIDDEN TEXT</p>
    <p>After <span hidden>secret <b>words</b></span>the hidden span.</p></div></article></body></html>"""
    record = extract_page(markup, "https://term.greeks.live/definition/hidden/").record
    assert record["body_text"] == "Shown words here, for the reader to read in full.\n\nAfter the hidden span."


def test_prose_that_starts_with_a_bylines_word_is_the_pages_text():
    """A paragraph whose first word was a byline's ("By", "Updated", "Published", "Author") was dropped as a
    meta line however long it ran: "By default …" went, and the heading above it with it. A byline goes on
    with a name, a date, or "on", "by", "at", "in"; and it is short."""
    markup = b"""<html><body><article><h1>Netting</h1><div class="entry-content">
    <p>By Jane Doe and John Smith, Reuters.</p><p>Updated on March 3, 2024 at 10:00 a.m.</p>
    <p>Published by the Editorial Board of The Daily Planet.</p><p>By the Editors</p>
    <p>Netting offsets one position against another before margin is worked out.</p>
    <h2>The default</h2><p>By default the venue nets positions across every account of one owner.</p>
    <p>By default it is off.</p>
    <p>Updated guidance from the regulator requires netting sets to be named in the agreement.</p>
    <p>Published research finds that netting lowers margin by a third.</p></div></article></body></html>"""
    record = extract_page(markup, "https://term.greeks.live/definition/netting/").record
    assert record["body_text"].split("\n\n") == [
        "Netting offsets one position against another before margin is worked out.", "The default",
        "By default the venue nets positions across every account of one owner.", "By default it is off.",
        "Updated guidance from the regulator requires netting sets to be named in the agreement.",
        "Published research finds that netting lowers margin by a third."]
    assert [section["heading"] for section in record["sections"]] == ["The default"]


@pytest.mark.parametrize(("line", "author", "published", "modified"), [
    ('By <a href="/authors/priya/">Priya Raman</a> · <time datetime="2024-06-04">4 June 2024</time>', "Priya Raman",
     "2024-06-04", None),
    ('Posted on <time datetime="2024-06-04">4 June</time> by <a href="/u/pr/">Priya Raman</a>', "Priya Raman",
     "2024-06-04", None),
    ("By Jane Doe and John Smith, Reuters.", "Jane Doe and John Smith", None, None),
    ('Updated <time datetime="2024-06-04T09:00:00Z">June 4, 2024</time>', None, None, "2024-06-04T09:00:00+00:00"),
    ("Last updated 2024-06-04", None, None, "2024-06-04"),
    ('Published <time datetime="2023-01-02">2 Jan 2023</time> · Updated <time datetime="2024-06-04">4 Jun</time>',
     None, "2023-01-02", "2024-06-04"),
    # Dates written out in English, as most bylines show them: the day, the month's name or its abbreviation, the year.
    ("By Priya Raman · June 4, 2024", "Priya Raman", "2024-06-04", None),
    ("By Priya Raman · 4th Sept. 2023", "Priya Raman", "2023-09-04", None),
    ("Published Jan 2, 2023 · Updated March 3rd, 2024", None, "2023-01-02", "2024-03-03"),
    ("Last updated: 31 December 2024", None, None, "2024-12-31"),
    ("By Priya Raman · June 31, 2024", "Priya Raman", None, None),  # no such day
    ("By Priya Raman · May 2024", "Priya Raman", None, None),  # no day: no date
])
def test_a_visible_byline_gives_the_author_and_its_dates_their_kind(line, author, published, modified):
    """A byline without a colon ("By Priya Raman · 4 June 2024") was left out of the body as a meta line and
    its name kept nowhere; a date shown as "Updated" was archived as the page's publication date, and none
    as its last edit."""
    prose = "<p>" + "Central banks bought more gold this year than in any year since records began. " * 4 + "</p>"
    markup = (f"<html><body><article><h1>Why central banks buy gold</h1><p>{line}</p>{prose}{prose}</article>"
              "</body></html>").encode()
    record = extract_page(markup, "https://news.example/gold/").record
    assert (record["author"], record["published"], record["modified"]) == (author, published, modified)
    assert record["body_text"].startswith("Central banks bought")


@pytest.mark.parametrize(("line", "author"), [
    ("By Jane Doe, John Smith and Ann Lee · March 18, 2026", "Jane Doe, John Smith and Ann Lee"),
    ("By Jane Doe, John Smith, and Ann Lee", "Jane Doe, John Smith, and Ann Lee"),
    ("By Jane Doe and John Smith, Reuters.", "Jane Doe and John Smith"),
    ("By Jane Doe, Reuters · March 18, 2026", "Jane Doe"),
    ('By <a rel="author" href="/author/jane/">Jane Doe</a>, <a rel="author" href="/author/john/">John Smith</a> and '
     '<a rel="author" href="/author/g/">Greeks.live</a>', "Jane Doe, John Smith and Greeks.live"),
    ('By <span class="author"><a rel="author" href="/author/jane/">Jane Doe</a></span> &amp; <span class="author">'
     '<a rel="author" href="/author/john/">John Smith</a></span>', "Jane Doe and John Smith"),
])
def test_a_byline_of_several_authors_gives_them_all(line, author):
    """A byline naming three ("By Jane Doe, John Smith and Ann Lee") gave only the first, as did several
    rel=author links, while "By Jane Doe and John Smith" gave both. An author's box further down the page
    (the first author's link again, another post's) adds no one to the byline's links."""
    prose = "<p>" + "Central banks bought more gold this year than in any year since records began. " * 4 + "</p>"
    box = '<div class="author-box"><a rel="author" href="/author/ann/">Ann Lee</a> writes on markets.</div>'
    box = box if 'rel="author"' in line else ""
    markup = (f"<html><body><article><h1>Why central banks buy gold</h1><p>{line}</p>{prose}{prose}{box}</article>"
              "</body></html>").encode()
    record = extract_page(markup, "https://news.example/gold/").record
    assert record["author"] == author
    assert record["body_text"].startswith("Central banks bought")


@pytest.mark.parametrize(("authors", "author"), [
    ('[{"@type": "Person", "name": "Jane Doe"}, {"@type": "Person", "name": "John Smith"}]', "Jane Doe and John Smith"),
    ('[{"@id": "#jane"}, "John Smith", {"@type": "Person", "name": " "}, {"@type": "Person", "name": "Ann Lee"}]',
     "Jane Doe, John Smith and Ann Lee"),
    ('[{"@type": "Person", "name": "Jane Doe"}, {"@type": "Person", "name": "Jane Doe"}]', "Jane Doe"),
    ('{"@type": "Person", "name": "Jane Doe"}', "Jane Doe"),
    ("[]", None),
])
def test_json_ld_naming_several_authors_gives_them_all(authors, author):
    """An article whose JSON-LD names several authors (a list of people, one by its @id) gave only the first."""
    data = ('{"@context": "https://schema.org", "@graph": [{"@type": "Person", "@id": "#jane", "name": "Jane Doe"}, '
            f'{{"@type": "Article", "headline": "Why central banks buy gold", "author": {authors}}}]}}')
    prose = "<p>" + "Central banks bought more gold this year than in any year since records began. " * 4 + "</p>"
    markup = (f'<html><head><script type="application/ld+json">{data}</script></head><body><article>'
              f"<h1>Why central banks buy gold</h1>{prose}</article></body></html>").encode()
    assert extract_page(markup, "https://news.example/gold/").record["author"] == author


def test_an_author_category_or_language_with_line_breaks_is_one_line():
    """A site's line breaks in JSON-LD's author or articleSection, or in <html lang>, were archived as they came,
    and `show` printed them as lines of its own ('live (HTTP 200) · version 9')."""
    data = ('{"@context": "https://schema.org", "@type": "Article", "headline": "Why central banks buy gold", '
            '"author": {"@type": "Person", "name": "  Jane\\n  Doe\\r\\nlive (HTTP 200)  "}, '
            '"articleSection": ["Markets\\n\\n## Essence", " \\n ", "Gold"]}')
    prose = "<p>" + "Central banks bought more gold this year than in any year since records began. " * 4 + "</p>"
    markup = (f'<html lang="en&#10;live (HTTP 200)"><head><script type="application/ld+json">{data}</script></head>'
              f"<body><article><h1>Why central banks buy gold</h1>{prose}</article></body></html>").encode()
    record = extract_page(markup, "https://news.example/gold/").record
    assert record["author"] == "Jane Doe live (HTTP 200)"
    assert record["categories"] == ["Markets ## Essence", "Gold"]
    assert record["language"] == "en live (HTTP 200)"


@pytest.mark.parametrize("line", [
    "<p>Posted 3 days ago by Priya Raman</p>",
    '<div class="entry-meta"><span class="posted-on">Posted 3 days ago</span> by <span class="author">Priya Raman'
    "</span></div>",
])
def test_a_byline_with_a_relative_date_gives_its_author_and_no_date(line):
    """"Posted on March 3, 2026 by Priya Raman" gave its author, but "Posted 3 days ago by Priya Raman" was no
    meta line: its name was lost (and the line, as a paragraph, kept as the page's first words). A relative
    date is no date; prose that starts "Posted" is still the page's text."""
    prose = "<p>" + "Central banks bought more gold this year than in any year since records began. " * 4 + "</p>"
    markup = (f"<html><body><article><h1>Why central banks buy gold</h1>{line}{prose}<p>Posted collateral is "
              f"returned when the position closes.</p>{prose}</article></body></html>").encode()
    record = extract_page(markup, "https://news.example/gold/").record
    assert (record["author"], record["published"], record["modified"]) == ("Priya Raman", None, None)
    assert record["body_text"].startswith("Central banks bought")
    assert "\n\nPosted collateral is returned when the position closes.\n\n" in record["body_text"]


@pytest.mark.parametrize(("line", "published", "modified"), [
    ("Updated: 2026-04-01 · Published: 2025-12-02", "2025-12-02", "2026-04-01"),
    ("Updated Apr 1, 2026 | Published Dec 2, 2025", "2025-12-02", "2026-04-01"),
    ("Last updated: April 1, 2026 · First published: December 2, 2025", "2025-12-02", "2026-04-01"),
    ("By Greeks.live | Updated Apr 1, 2026 | Published Dec 2, 2025", "2025-12-02", "2026-04-01"),
    ('Updated: <time datetime="2026-04-01">April 1, 2026</time> · Published: <time datetime="2025-12-02">'
     "December 2, 2025</time>", "2025-12-02", "2026-04-01"),
    ("By Priya Raman · Last modified 2026-04-01", None, "2026-04-01"),
    # A date without a label of its own: the line's first is the publication's, its last of several the edit's.
    ("Posted on Dec 2, 2025 by Priya Raman", "2025-12-02", None),
    ("By Priya Raman · 2025-12-02 · 2026-04-01 (updated)", "2025-12-02", "2026-04-01"),
])
def test_a_date_in_a_meta_line_goes_by_its_own_label_wherever_it_stands(line, published, modified):
    """A line that named the edit first ("Updated: 2026-04-01 · Published: 2025-12-02") lost its publication
    date, and after a byline ("By Greeks.live | Updated … | Published …") had the two swapped: a line's
    first date was the publication's, whatever label stood before it."""
    prose = "<p>" + "Central banks bought more gold this year than in any year since records began. " * 4 + "</p>"
    markup = (f"<html><body><article><h1>Why central banks buy gold</h1><p>{line}</p>{prose}{prose}</article>"
              "</body></html>").encode()
    record = extract_page(markup, "https://news.example/gold/").record
    assert (record["published"], record["modified"]) == (published, modified)
    assert record["body_text"].startswith("Central banks bought")


def test_category_links_above_the_title_are_the_pages_categories():
    """WordPress themes write a post's category links in its header, above the <h1>: only those in the meta
    lines after the title were read, and such a post had no categories (its author and date, read
    page-wide, it had)."""
    markup = b"""<html><body><article><header class="entry-header"><div class="entry-categories">
    <a href="/category/options/" rel="category tag">Options</a>, <a href="/category/greeks/" rel="category tag">Greeks
    </a></div><h1>Vega</h1><p>By <a rel="author" href="/author/ann/">Ann Lee</a></p></header><div class="entry-content">
    <p>Vega measures how much an option's price moves when implied volatility moves by one point.</p>
    <p>It is largest for options at the money with long to run, and falls as expiry nears, which is why a
    calendar spread is long vega: the option it buys has longer to run than the one it sells.</p>
    </div></article><aside><h2>Elsewhere</h2><a href="/category/news/" rel="category">News</a></aside></body></html>"""
    record = extract_page(markup, "https://blog.example/vega/").record
    assert (record["categories"], record["author"]) == (["Options", "Greeks"], "Ann Lee")
    assert record["body_text"].startswith("Vega measures how much")
    # Below the title, in the text or its comments, a tag link is someone's hashtag, not the page's category.
    below = markup.replace(b'<header class="entry-header">', b"").replace(b"</header>", b"").replace(
        b'<div class="entry-categories">', b'<div class="comment">').replace(b"<h1>Vega</h1>", b"")
    below = below.replace(b"<article>", b"<article><h1>Vega</h1>")
    assert extract_page(below, "https://blog.example/vega/").record["categories"] is None


def test_text_hidden_until_found_is_the_pages_text():
    """hidden="until-found" folds a block (an FAQ's answer) that find in page searches and opens: every reader
    may read it, as a closed accordion's. It was dropped with the blocks hidden from every reader."""
    markup = b"""<html><body><article><h1>Vega FAQ</h1><div class="entry-content">
    <h2>What does vega measure?</h2><div hidden="Until-Found"><p>How much an option's price moves when implied
    volatility moves by one point.</p></div><h2>Gone</h2><div hidden="hidden"><p>Never shown.</p></div>
    <p>Closing words of the page, for every reader to read.</p></div></article></body></html>"""
    record = extract_page(markup, "https://term.greeks.live/definition/vega-faq/").record
    assert record["body_text"] == (
        "What does vega measure?\n\nHow much an option's price moves when implied volatility moves by one point."
        "\n\nGone\n\nClosing words of the page, for every reader to read.")


def test_a_dialog_not_open_is_not_the_pages_text_and_an_open_one_is():
    """A <dialog> without "open" is display: none by the HTML Standard's own style sheet (a newsletter's, a cookie
    notice's, shown by a script if ever): its words were the page's."""
    markup = b"""<html><body><article><h1>Vega</h1><div class="entry-content">
    <p>Vega measures how much an option's price moves with implied volatility.</p>
    <dialog id="newsletter"><p>Subscribe to our newsletter for weekly insights!</p></dialog>
    <dialog open><p>A note the page shows open.</p></dialog></div></article></body></html>"""
    record = extract_page(markup, "https://term.greeks.live/definition/vega/").record
    assert record["body_text"] == (
        "Vega measures how much an option's price moves with implied volatility.\n\nA note the page shows open.")


def test_an_iframes_own_text_and_an_svg_images_title_are_not_the_pages_words():
    """A browser shows an <iframe>'s frame, never the text written inside it (for browsers without frames), and draws
    no SVG image's <title> or <desc> (a tooltip, a description for a screen reader): an icon's title within a
    sentence ran into its words ("It mattersInfo iconA circle for hedging")."""
    markup = b"""<html><body><article><h1>Delta</h1><div class="entry-content">
    <p>Delta measures how much an option's price moves with its underlying.
    <iframe src="https://video.example/embed/1">Your browser does not support iframes.</iframe></p>
    <p>It matters <svg width="10"><title>Info icon</title><desc>A circle</desc><circle r="4"/></svg> for hedging,
    as <svg><text>drawn words</text></svg> show.</p></div></article></body></html>"""
    record = extract_page(markup, "https://term.greeks.live/definition/delta/").record
    assert record["body_text"] == ("Delta measures how much an option's price moves with its underlying.\n\n"
                                   "It matters for hedging, as drawn words show.")


def test_an_empty_href_is_no_link_and_one_naming_no_host_leads_nowhere():
    """href="" is the page itself (a script's handle, as href="#" is), and "//" or "///" name no host: a browser
    refuses them as URLs, where urljoin read them as the page itself. "///vega.example/x" names one."""
    links = "".join(f'<a href="{href}">link {n}</a> ' for n, href in enumerate(
        ["", "  ", "//", "///", "\\\\", "///vega.example/x", "/definition/gamma/"]))
    markup = f"""<html><body><article><h1>Vega</h1><div class="entry-content">
    <p>Vega measures how much an option's price moves with implied volatility: {links}</p>
    </div></article></body></html>""".encode()
    record = extract_page(markup, "https://term.greeks.live/definition/vega/").record
    assert [(link["to_url"], link["anchor_text"]) for link in record["links"]] == [
        ("https://vega.example/x", "link 5"), ("https://term.greeks.live/definition/gamma/", "link 6")]


def test_a_definition_list_whose_terms_are_grouped_in_divs_is_read_whole():
    """The HTML Standard lets a <dl> group each term with its definitions in a <div>, and browsers show it as any
    other: its words were all lost, the list read as having no item."""
    terms = "<dt>Strike</dt><dd>The price at which the holder may buy or sell.</dd>"
    terms += "<dt>Expiry</dt><dd>The date the option lapses.</dd>"
    grouped = terms.replace("<dt>", "<div><dt>").replace("</dd>", "</dd></div>")
    texts = []
    for dl in (terms, grouped):
        markup = (f"<html><body><article><h1>Vega</h1><div class='entry-content'><p>Vega measures the sensitivity of "
                  f"an option price to implied volatility.</p><dl>{dl}</dl></div></article></body></html>").encode()
        texts.append(extract_page(markup, "https://term.greeks.live/definition/vega/").record["body_text"])
    assert texts[1] == texts[0] == ("Vega measures the sensitivity of an option price to implied volatility.\n\n"
                                    "Strike\nThe price at which the holder may buy or sell.\nExpiry\n"
                                    "The date the option lapses.")


def test_text_its_own_style_hides_is_not_the_pages_text_but_a_page_hidden_until_its_scripts_run_is():
    """An inline display: none or visibility: hidden shows an element to no reader, as the hidden attribute
    does. A page hidden whole until its scripts run (its body, or the block holding its title) is shown to
    every reader then: its text stays."""
    markup = b"""<html><head><title>Hidden</title></head><body><article><h1>Hidden</h1><div class="entry-content">
    <p>Shown words here, for the reader to read in full.</p><p style="DISPLAY : None">EDITOR NOTE</p>
    <div style="color: red; visibility:hidden"><p>HIDDEN TEXT</p></div>
    <p>After <span style="display:none;">secret <b>words</b></span>the hidden span.</p></div></article></body></html>"""
    record = extract_page(markup, "https://term.greeks.live/definition/hidden/").record
    assert record["body_text"] == "Shown words here, for the reader to read in full.\n\nAfter the hidden span."
    for wrapped in (markup.replace(b"<body>", b'<body style="display: none">'),
                    markup.replace(b"<body>", b"<body hidden>"),
                    markup.replace(b"<article>", b'<article style="visibility: hidden">')):
        record = extract_page(wrapped, "https://term.greeks.live/definition/hidden/").record
        assert record["title"] == "Hidden"
        assert record["body_text"] == "Shown words here, for the reader to read in full.\n\nAfter the hidden span."


@pytest.mark.parametrize("style", ["/* display:none; */ color:#333", "display:none; display:block", "display: nonee",
                                   "--x: display:none", "content: 'display:none'", "visibility: visible"])
def test_a_style_that_only_mentions_hiding_hides_nothing(style):
    """Styles were searched for "display:none" as a substring: a declaration commented out, overridden or
    invalid, or a custom property's value, left visible text out of the archive."""
    markup = (f'<html><body><main><h1>Vega</h1><p>Vega measures exposure.</p><div style="{style}"><p>Shown to every '
              "reader.</p></div></main></body></html>").encode()
    record = extract_page(markup, "https://term.greeks.live/term/vega/").record
    assert record["body_text"] == "Vega measures exposure.\n\nShown to every reader."


def test_what_visibility_hides_a_descendant_may_show_again():
    """CSS lets an element under one of visibility: hidden make itself visible again (display: none it cannot):
    such a block is kept whole, rather than lose what it shows."""
    markup = (b'<html><body><main><h1>Vega</h1><p>Vega measures exposure.</p><div style="visibility:hidden"><p>Not '
              b'this.</p><p style="visibility: visible">But this.</p></div><div style="display:none !important; '
              b'display:block"><p style="visibility:visible">Nor this.</p></div></main></body></html>')
    record = extract_page(markup, "https://term.greeks.live/term/vega/").record
    assert record["body_text"] == "Vega measures exposure.\n\nNot this.\n\nBut this."


def test_a_block_that_starts_with_a_meta_word_but_holds_a_table_or_a_heading_is_content():
    """With the words at a seam kept apart, a table headed 'Author | Model' read 'Author Model …' and a box
    headed 'Updated' 'Updated Funding …': both passed for a byline and were dropped from the page's text."""
    markup = b"""<html><body><article><h1>Probe \xe2\x8e\x8a Definition</h1><div>
    <p>Intro paragraph of ordinary prose that explains the margin tiers used by the venue today.</p>
    <div class="table-wrap"><table><tr><th>Author</th><th>Model</th></tr>
    <tr><td>Black Scholes</td><td>Closed-form option pricing.</td></tr></table></div>
    <div class="box"><h3>Updated</h3><ul><li>Funding interval cut to one hour.</li></ul></div>
    <div class="byline">By Jane Doe</div></div></article></body></html>"""
    record = extract_page(markup, "https://term.greeks.live/definition/probe/").record
    assert record["body_text"].split("\n\n") == [
        "Intro paragraph of ordinary prose that explains the margin tiers used by the venue today.",
        "Author Model Black Scholes Closed-form option pricing.", "Updated", "Funding interval cut to one hour."]


def test_the_general_tier_keeps_paragraphs_and_cells_apart_too():
    """A page the glossary walk doubts is read by trafilatura; its text ran the paragraphs of a quote and
    of a cell together ('Quote one.Quote two.')."""
    markup = b"""<html><head><title>General page</title></head><body><main>
    <p>Intro paragraph of ordinary prose that explains the margin tiers used by the venue, and it goes on for a
    while so that it counts as real content on this page.</p>
    <blockquote><p>Quote one.</p><p>Quote two.</p></blockquote>
    <table><tr><td><p>Para one.</p><p>Para two.</p></td></tr></table>
    <p>Second paragraph of ordinary prose, long enough to be kept by any extractor, with more words.</p>
    </main></body></html>"""
    body = extract_page(markup, "https://term.greeks.live/definition/general/").record["body_text"]
    assert "Quote one. Quote two." in body and "Para one. Para two." in body


@pytest.mark.parametrize("name", ["center", "dialog", "search", "listing", "xmp"])
def test_older_and_newer_blocks_keep_their_words_apart_too(name):
    from lxml import html

    from glossary_spider.extraction.tree import text_of

    assert text_of(html.fromstring(f"<blockquote>Quoted<{name}>Signed</{name}>after</blockquote>")) == \
        "Quoted Signed after"


def test_the_cycle_collector_waits_for_an_extraction_and_is_given_back_as_it_was():
    """extract_page pauses Python's cycle collector for its call (it makes no cycles; the collector only
    walked what it made, a tenth of the call's time): none runs inside it; after it, and after one that
    raised, the collector runs again; paused by the caller, it stays paused."""
    import gc
    import sys

    site = ReplicaSite(40)
    pages = [(BASE + path, site.render(path, BASE).body) for path in site.glossary_paths()[:20]]
    inside = []

    def collecting(phase, info):
        if phase == "start":
            frame = sys._getframe(1)
            while frame is not None and frame.f_code.co_name != "_extract":
                frame = frame.f_back
            inside.append(frame is not None)

    gc.callbacks.append(collecting)
    try:
        for url, body in pages:
            extract_page(body, url)
        gc.collect()  # one run outside, seen as such
    finally:
        gc.callbacks.remove(collecting)
    assert inside and not any(inside)
    assert gc.isenabled()
    with pytest.raises(TypeError):
        extract_page(None, BASE + "/definition/x/")
    assert gc.isenabled()
    gc.disable()
    try:
        extract_page(pages[0][1], pages[0][0])
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_long_pages_text_is_cut_at_a_word_end_that_its_markup_does_not_move():
    """A page whose text passes what its size lets it keep was cut at a quarter of its bytes, mid-word: an edit to
    a script's URL (7 bytes of markup) moved the cut one character on, and the page had a new version whose diff
    was a word's last letters. The cut goes by whole steps of the page's size, at the end of a word."""
    prose = "<p>" + "ladder funding delta vega swap margin " * 28_000 + "</p>"
    bodies = [f'<html><head><script src="/js/site.min.js?ver={ver}"></script><title>Huge</title></head><body>'
              f"<article><h1>Huge</h1>{prose}</article></body></html>" for ver in ("1", "1234567")]
    extractions = [extract_page(body.encode(), f"{BASE}/definition/huge/") for body in bodies]
    records = [extraction.record for extraction in extractions]
    text = records[0]["body_text"]
    assert len(text) < len(prose) // 2 and text.endswith((" ladder", " funding", " delta", " vega", " swap", " margin"))
    assert records[1]["body_text"] == text and records[1]["content_hash"] == records[0]["content_hash"]
    assert extractions[0].errors[0]["error"] == (
        f"page cut: body text of 1,063,999 characters, the first {len(text):,} kept")
    # The sections past the bound: the row said "sections from 2 on not kept" of the second (position 1) on.
    section = "<p>" + "ladder funding delta vega swap margin " * 2_000 + "</p>"
    body = (f"<html><head><title>T</title></head><body><article><h1>T</h1><h2>A</h2>{section}<h2>B</h2>{section * 5}"
            f"<h2>C</h2>{section}</article></body></html>")
    extraction = extract_page(body.encode(), f"{BASE}/definition/t/")
    assert [s["heading"] for s in extraction.record["sections"]] == ["A"]
    assert extraction.errors[0]["error"].endswith(
        "section text past 131,072 characters, the last 2 of 3 sections not kept")


def test_an_author_category_heading_or_link_text_of_a_megabyte_is_cut_like_the_title():
    """The title and summary were cut at their bounds and the page's other lines were not: a definition whose
    byline, a related link's text and a heading were a megabyte each archived them whole, and `glossary show`
    printed megabytes. Each is cut at a line's bound (a link's summary at the page's), and the page's one parse
    row names each kind of cut."""
    site = ReplicaSite(200)
    doc = site.document("/definition/international-legal-cooperation/", BASE)
    doc["theme"] = "block"  # the byline a block of its own (in the classic theme, a line shared with the date)
    doc["meta"]["author"] = "A" * 1024 * 1024
    article = json.loads(doc["jsonld"][1])
    del article["author"]  # the byline's link is the author
    article["articleSection"] = ["C" * 5000, "Definition", "D" * 3000]
    doc["jsonld"][1] = json.dumps(article)
    for number, block in enumerate(doc["blocks"]):
        if block[0] == "related":
            doc["blocks"][number] = ("related", [(f"{BASE}/definition/xss/", "Z" * 1024 * 1024), *block[1][1:]])
        elif block[0] == "glossary":
            href, title, _ = block[1][0]
            doc["blocks"][number] = ("glossary", [(href, title, "S" * 20_000), *block[1][1:]])
    markup = themes.render(doc)
    after = markup.index("</p>", markup.index("entry-content")) + len("</p>")
    markup = f"{markup[:after]}<h3>{'H' * 500_000}</h3>{markup[after:]}".replace('lang="en-US"', f'lang="{"L" * 5000}"')
    extraction = extract_page(markup.encode(), BASE + doc["path"])
    record = extraction.record
    assert (record["author"], record["language"]) == ("A" * 2000, "L" * 2000)
    assert record["categories"] == ["C" * 2000, "Definition", "D" * 2000]
    assert [s["heading"] for s in record["sections"]] == ["International Legal Cooperation", "H" * 2000]
    related = next(link for link in record["links"] if link["to_url"] == f"{BASE}/definition/xss/")
    assert related["anchor_text"] == "Z" * 2000
    assert [link["summary"] for link in record["links"] if link["kind"] == "glossary"][0] == "S" * 10_000
    assert extraction.errors == [{"stage": "parse", "detail": None, "error": (
        "page cut: author of 1,048,576 characters, the first 2,000 kept; "
        "language of 5,000 characters, the first 2,000 kept; "
        "2 categories of more than 2,000 characters, the first 2,000 of each kept; "
        "1 section heading of more than 2,000 characters, the first 2,000 kept; "
        "1 link anchor text of more than 2,000 characters, the first 2,000 kept; "
        "1 link summary of more than 10,000 characters, the first 10,000 kept")}]


@pytest.mark.parametrize("separator, value, count", [(" ", "=x", 100_000), ("/", "", 100_000), ("", '=""', 100_000),
                                                    (" ", '="<>"', 20_000)])  # (within MAX_ELEMENTS' 50,000 tags)
def test_a_tag_with_a_hundred_thousand_attributes_is_read_in_bounded_time(separator, value, count):
    """libxml2 compares each attribute of a tag with every one before it: one tag with 100,000 (a megabyte of
    markup) took 10 s to parse, 300,000 minutes, in C, where neither a stop nor --max-duration reached the crawl.
    Past the first 1,000 a tag's attributes are not read, however they are written (the slash and the quoted
    value with no space after it part attributes as a space does; brackets in a value hide nothing)."""
    import time

    crowded = "<p " + separator.join(f"a{i}{value}" for i in range(count)) + ">In the crowded tag.</p>"
    body = (f"<html><head><title>Crowded</title></head><body><article><h1>Crowded</h1><p>Before it.</p>{crowded}"
            "<p>After it, the page goes on.</p></article></body></html>")
    started = time.process_time()
    extraction = extract_page(body.encode(), f"{BASE}/definition/crowded/")
    assert time.process_time() - started < 2
    assert extraction.errors[0]["error"] == (f"page cut: 1 tag with more than 1,000 attributes (the most {count:,}), "
                                             "the first 1,000 read")
    text = extraction.record["body_text"]
    assert "Before it." in text and "In the crowded tag." in text and "After it, the page goes on." in text


def _definition_with(sections: str, content: str = "<p>Vega measures how far an option's price moves when "
                                                   "implied volatility moves a point.</p>") -> str:
    return ("<html><head><title>Vega ⎊ Definition</title></head><body><main><h1>Vega ⎊ Definition</h1>"
            f"<h2>Vega</h2>{content}{sections}</main><footer><p>© Greeks.live</p></footer></body></html>")


def _glossary_and_discover_more(section: str, item: str) -> str:
    return (f'<section><{section}>Glossary</{section}><div><{item}><a href="/area/leverage/">Leverage</a></{item}>'
            f"<p>Application ⎊ Leverage shapes the cost of a hedge.</p></div></section>"
            f'<section><{section}>Discover More</{section}><div><{item}><a href="/term/gamma/">Gamma</a></{item}>'
            f'<p>Meaning ⎊ The rate of change of delta.</p></div><div><{item}><a href="/definition/theta/">Theta'
            f"</a></{item}><p>Meaning ⎊ The time decay of an option.</p></div></section>")


GLOSSARY_AND_DISCOVER_MORE = [
    ("glossary", f"{BASE}/area/leverage/", "Leverage", "Application", "Leverage shapes the cost of a hedge."),
    ("discover_more", f"{BASE}/term/gamma/", "Gamma", None, "The rate of change of delta."),
    ("discover_more", f"{BASE}/definition/theta/", "Theta", None, "The time decay of an option.")]


@pytest.mark.parametrize(("section", "item"), [("h2", "h3"), ("h2", "h2"), ("h3", "h3"), ("h3", "h2")])
def test_glossary_and_discover_more_items_are_theirs_whatever_the_level_of_their_headings(section, item):
    """A theme that writes a section's name and its items' titles at one level (WordPress's post title block is an
    h2) had its Glossary and Discover More read as body: a section for each item, their links inline, their
    summaries lost."""
    html = _definition_with(_glossary_and_discover_more(section, item))
    record = extract_page(html.encode(), f"{BASE}/definition/vega/").record
    assert record["body_text"] == "Vega\n\nVega measures how far an option's price moves when implied volatility " \
                                  "moves a point."
    assert [(link["kind"], link["to_url"], link["anchor_text"], link["facet"], link["summary"])
            for link in record["links"]] == GLOSSARY_AND_DISCOVER_MORE


def test_the_general_tier_leaves_the_glossary_and_discover_more_out_of_the_body():
    """Where the walk doubts a definition (its text in <div>s too short for loose text) and trafilatura reads it,
    the Glossary and Discover More were its body: a section for each item, their links again as inline."""
    html = _definition_with(_glossary_and_discover_more("h2", "h3"), content=(
        "<div>Vega measures how far an option's price moves when implied volatility moves a point.</div>"
        "<div>Desks hedge vega with calendar spreads, long one expiry and short another, every week.</div>"))
    extraction = extract_page(html.encode(), f"{BASE}/definition/vega/")
    assert extraction.record["body_text"] == (
        "Vega\n\nVega measures how far an option's price moves when implied volatility moves a point.\n\n"
        "Desks hedge vega with calendar spreads, long one expiry and short another, every week.")
    assert [s["heading"] for s in extraction.record["sections"]] == ["Vega"]
    assert [(link["kind"], link["to_url"], link["anchor_text"], link["facet"], link["summary"])
            for link in extraction.record["links"]] == GLOSSARY_AND_DISCOVER_MORE


def test_a_term_whose_related_posts_are_all_the_walk_read_is_read_again_by_the_general_tier():
    """A list of posts excuses a category page its empty body, not a term's: a term whose text the walk missed
    was archived with no text at all, no error, its related list taken for all the page holds."""
    related = "".join(f'<li><a href="/definition/{slug}/">{slug.title()}</a></li>' for slug in ("rho", "phi", "chi"))
    html = ("<html><head><title>Vega ⎊ Term</title></head><body><main><h1>Vega ⎊ Term</h1><h2>Essence</h2>"
            "<div>Vega measures how far an option's price moves when implied volatility moves a point.</div>"
            "<div>Desks hedge vega with calendar spreads, long one expiry and short another, every week.</div>"
            f"<ul>{related}</ul></main></body></html>")
    record = extract_page(html.encode(), f"{BASE}/term/vega/").record
    assert "Desks hedge vega with calendar spreads" in record["body_text"]


@pytest.mark.parametrize("kind", ["Application/LD+JSON", "application/ld+json; charset=utf-8",
                                  " application/ld+json "])
def test_json_ld_is_read_whatever_the_case_and_parameters_of_its_media_type(kind):
    """A media type is read in any case, with its parameters: such a block was passed over without a word."""
    html = (f'<html><head><script type="{kind}">{{"@type": "Article", "name": "Vega", "datePublished": '
            f'"2026-01-02T03:04:05+00:00"}}</script></head><body><main><h1>Vega</h1><p>Vega is the sensitivity of '
            "an option's price to volatility.</p></main></body></html>")
    extraction = extract_page(html.encode(), f"{BASE}/definition/vega/")
    assert [(item["syntax"], item["type"]) for item in extraction.record["structured_data"]] == [
        ("json-ld", "Article")]
    assert extraction.record["published"] == "2026-01-02T03:04:05+00:00" and extraction.errors == []


def test_what_a_browser_shows_only_where_it_cannot_play_or_draw_is_not_the_pages_text():
    """The fallback text of <video>, <audio>, <canvas> and <object> ("Your browser does not support the video tag")
    was archived as the page's text; an <iframe>'s was already left out."""
    html = ("<html><body><main><h1>Vega</h1><p>Watch the walkthrough: <video src=v.mp4>Your browser does not support "
            "the video tag.</video></p><p>Listen: <audio src=a.mp3>Your browser does not support audio.</audio></p>"
            "<p>Chart: <canvas>Your browser does not support canvas.</canvas> and <object data=c.svg>No SVG."
            "</object></p></main></body></html>")
    record = extract_page(html.encode(), f"{BASE}/definition/vega/").record
    assert record["body_text"] == "Watch the walkthrough:\n\nListen:\n\nChart: and"


def test_a_post_cards_header_with_its_date_and_author_beside_its_title_is_the_card_not_a_meta_line():
    """Twenty Seventeen's archive cards put the date and the author in the card's header, with its title: the
    header was read as a meta line, the listing lost (its summaries in the body) and the first post's date and
    author taken for the area page's own."""
    posts = [("/term/vega-hedging/", "Vega Hedging", "Offsets exposure to implied volatility."),
             ("/definition/volga/", "Volga", "How vega changes with volatility.")]
    cards = "".join(
        f'<article class="post"><header class="entry-header"><div class="entry-meta"><time datetime="2026-01-0{day}">'
        f'January {day}, 2026</time> by <a rel="author" href="/author/jane/">Jane Doe</a></div><h2 class="entry-title">'
        f'<a href="{href}">{title}</a></h2></header><div class="entry-summary"><p>Meaning ⎊ {summary}</p></div>'
        "</article>" for day, (href, title, summary) in enumerate(posts, 1))
    html = ("<html><head><title>Vega ⎊ Area</title></head><body><main><header><h1>Vega</h1></header><h2>Context</h2>"
            f"<p>Vega measures how an option's price responds to implied volatility.</p>{cards}</main></body></html>")
    record = extract_page(html.encode(), f"{BASE}/area/vega/").record
    assert [(link["kind"], link["to_url"], link["summary"]) for link in record["links"]] == [
        ("listing", f"{BASE}{href}", summary) for href, _, summary in posts]
    assert record["body_text"] == "Context\n\nVega measures how an option's price responds to implied volatility."
    assert (record["published"], record["author"]) == (None, None)


@pytest.mark.parametrize("page", ["definition", "area"])
def test_a_card_that_gives_its_summary_before_its_title_keeps_it(page):
    """A theme that writes each card's excerpt above its title: every item took the next card's summary, the last
    none, and on an area page the first card's summary was read as the page's text."""
    posts = [("/term/gamma/", "Gamma", "The rate of change of delta."),
             ("/definition/theta/", "Theta", "The time decay of an option."),
             ("/definition/rho/", "Rho", "The sensitivity to interest rates.")]
    cards = "".join(f'<div class="card"><p>Meaning ⎊ {summary}</p><h3><a href="{href}">{title}</a></h3></div>'
                    for href, title, summary in posts)
    section = f"<section><h2>Discover More</h2>{cards}</section>" if page == "definition" else cards
    html = ("<html><head><title>Vega</title></head><body><main><h1>Vega</h1><h2>Context</h2><p>Vega measures how "
            f"an option's price responds to implied volatility.</p>{section}</main></body></html>")
    record = extract_page(html.encode(), f"{BASE}/{page}/vega/").record
    kind = "discover_more" if page == "definition" else "listing"
    assert [(link["kind"], link["to_url"], link["summary"]) for link in record["links"]] == [
        (kind, f"{BASE}{href}", summary) for href, _, summary in posts]
    assert record["body_text"] == "Context\n\nVega measures how an option's price responds to implied volatility."


@pytest.mark.parametrize("page", ["definition", "area"])
def test_a_card_that_gives_its_summary_before_its_title_after_one_that_gives_none_keeps_it(page):
    """Cards with their excerpts above their titles, the first without one: the first item, which waited for its
    summary, took the second's, and each item after it the next one's."""
    posts = [("/term/gamma/", "Gamma", None), ("/definition/theta/", "Theta", "The time decay of an option."),
             ("/definition/rho/", "Rho", "The sensitivity to interest rates.")]
    cards = "".join(f'<div class="card">{f"<p>Meaning ⎊ {summary}</p>" if summary else ""}<h3><a href="{href}">'
                    f"{title}</a></h3></div>" for href, title, summary in posts)
    section = f"<section><h2>Discover More</h2>{cards}</section>" if page == "definition" else cards
    html = ("<html><body><main><h1>Vega</h1><h2>Context</h2><p>Vega measures how an option's price responds to "
            f"implied volatility.</p>{section}</main></body></html>")
    record = extract_page(html.encode(), f"{BASE}/{page}/vega/").record
    assert [(link["to_url"], link["summary"]) for link in record["links"]] == [
        (f"{BASE}{href}", summary) for href, _, summary in posts]


@pytest.mark.parametrize("posts", [1, 3])
def test_an_area_page_that_lists_its_posts_titles_alone_has_no_text_not_the_sites_menus(posts):
    """A resource page listing its posts' titles, without a summary or a paragraph of its own: the walk doubted it,
    and trafilatura's fallback archived the site's title and menus as its text."""
    cards = "".join(f'<div class="post-item"><h2><a href="/definition/post-{i}/">Post {i}</a></h2></div>'
                    for i in range(posts))
    html = ('<html><head><title>Vega ⎊ Area ⎊ Resource 9</title></head><body><header><p class="site-title"><a href="/">'
            'Greeks.live</a></p><nav><ul><li><a href="/">Home</a></li><li><a href="/category/term/">Terms</a></li>'
            '</ul></nav></header><main><article><header><h1>Vega ⎊ Area ⎊ Resource 9</h1></header><div>'
            f"{cards}</div></article></main><footer><p>© 2026 Greeks.live</p></footer></body></html>")
    record = extract_page(html.encode(), f"{BASE}/area/vega/resource/9/").record
    assert record["body_text"] is None
    assert [(link["kind"], link["to_url"]) for link in record["links"]] == [
        ("listing", f"{BASE}/definition/post-{i}/") for i in range(posts)]


def test_a_listed_posts_continue_reading_link_is_no_part_of_its_summary():
    """WordPress ends an excerpt's paragraph with its "Continue reading" link, which was kept in the summary."""
    cards = "".join(f'<article><h2><a href="/definition/{slug}/">{slug.title()}</a></h2><p>Meaning ⎊ {slug.title()} '
                    f'in one line. <a class="more-link" href="/definition/{slug}/">Continue reading<span class='
                    f'"screen-reader-text"> "{slug.title()}"</span></a></p></article>' for slug in ("delta", "gamma"))
    html = f"<html><body><main><h1>Greeks</h1>{cards}</main></body></html>"
    record = extract_page(html.encode(), f"{BASE}/area/greeks/").record
    assert [(link["kind"], link["summary"]) for link in record["links"]] == [
        ("listing", "Delta in one line."), ("listing", "Gamma in one line.")]


@pytest.mark.parametrize("tag", ["div", "span"])
def test_a_listed_posts_summary_outside_a_paragraph_is_its_summary(tag):
    """An excerpt written in a <div> or a <span> was lost (too short for loose text), or read as the page's text."""
    cards = "".join(f'<div class="post-item"><h2><a href="/definition/{slug}/">{slug.title()}</a></h2><{tag} '
                    f'class="excerpt">Meaning ⎊ {slug.title()} in one line.</{tag}></div>' for slug in ("delta", "gamma"))
    html = ("<html><body><main><h1>Greeks</h1><h2>Context</h2><p>The Greeks measure an option's sensitivities to "
            f"what moves its price.</p>{cards}</main></body></html>")
    record = extract_page(html.encode(), f"{BASE}/area/greeks/").record
    assert [(link["kind"], link["summary"]) for link in record["links"]] == [
        ("listing", "Delta in one line."), ("listing", "Gamma in one line.")]
    assert record["body_text"] == "Context\n\nThe Greeks measure an option's sensitivities to what moves its price."


@pytest.mark.parametrize("title", ["<strong>{link}</strong>", "<p><strong>{link}</strong></p>"],
                         ids=["bold-link", "paragraph"])
def test_glossary_and_discover_more_items_titled_by_a_bold_link_are_theirs(title):
    """Items titled by a line that is a link alone, not a heading, were recorded nowhere, their summaries lost."""
    def item(href: str, text: str, summary: str) -> str:
        link = '<a href="{}">{}</a>'.format(href, text)
        return '<div class="item">' + title.format(link=link) + "<p>" + summary + "</p></div>"

    sections = ("<section><h2>Glossary</h2>"
                + item("/area/leverage/", "Leverage", "Application ⎊ Leverage shapes the cost of a hedge.")
                + "</section><section><h2>Discover More</h2>"
                + item("/term/gamma/", "Gamma", "Meaning ⎊ The rate of change of delta.")
                + item("/definition/theta/", "Theta", "Meaning ⎊ The time decay of an option.") + "</section>")
    record = extract_page(_definition_with(sections).encode(), f"{BASE}/definition/vega/").record
    assert [(link["kind"], link["to_url"], link["anchor_text"], link["facet"], link["summary"])
            for link in record["links"]] == GLOSSARY_AND_DISCOVER_MORE
    assert record["body_text"] == ("Vega\n\nVega measures how far an option's price moves when implied volatility "
                                   "moves a point.")


def test_an_areas_posts_grouped_under_labels_make_no_empty_sections():
    """Posts listed under "Terms" and "Definitions" headings: the labels were kept as empty sections of the body."""
    def cards(slugs):
        return "".join(f'<div><h4><a href="/definition/{slug}/">{slug.title()}</a></h4><p>Meaning ⎊ {slug.title()} '
                       "in one line.</p></div>" for slug in slugs)

    html = ("<html><body><main><h1>Vega</h1><h2>Context</h2><p>Vega measures how an option's price responds to "
            f"implied volatility.</p><h3>Terms</h3>{cards(['delta'])}<h3>Definitions</h3>{cards(['gamma'])}</main>"
            "</body></html>")
    record = extract_page(html.encode(), f"{BASE}/area/vega/").record
    assert [s["heading"] for s in record["sections"]] == ["Context"]
    assert record["body_text"] == "Context\n\nVega measures how an option's price responds to implied volatility."
    assert [(link["kind"], link["summary"]) for link in record["links"]] == [
        ("listing", "Delta in one line."), ("listing", "Gamma in one line.")]


def test_an_areas_posts_in_a_description_list_with_their_meaning_lines_are_a_listing():
    """Posts as the terms of a <dl>, their Meaning lines its descriptions: they were inline links, their summaries
    the page's text."""
    posts = "".join(f'<dt><a href="/definition/{slug}/">{slug.title()}</a></dt><dd>Meaning ⎊ {slug.title()} in one '
                    "line.</dd>" for slug in ("delta", "gamma"))
    html = ("<html><body><main><h1>Vega</h1><h2>Context</h2><p>Vega measures how an option's price responds to "
            f"implied volatility.</p><dl>{posts}</dl></main></body></html>")
    record = extract_page(html.encode(), f"{BASE}/area/vega/").record
    assert [(link["kind"], link["to_url"], link["summary"]) for link in record["links"]] == [
        ("listing", f"{BASE}/definition/{slug}/", f"{slug.title()} in one line.") for slug in ("delta", "gamma")]
    assert record["body_text"] == "Context\n\nVega measures how an option's price responds to implied volatility."
    # A definition's own description list (its terms explained in its text) stays its text.
    definition = extract_page(html.replace("<h1>Vega</h1>", "<h1>Vega ⎊ Definition</h1>").encode(),
                              f"{BASE}/definition/vega/").record
    assert "Meaning ⎊ Delta in one line." in definition["body_text"]


def test_an_areas_posts_grouped_in_nested_lists_are_its_listing():
    """Posts grouped in a list of labels, each label's posts a list nested under it: the page was doubted, and
    the general tier archived the labels, the titles and the site's menu as its text, with no link listed."""
    def group(label, kind, slugs):
        return f"<li>{label}<ul>" + "".join(f'<li><a href="/{kind}/{slug}/">{slug.title()}</a></li>'
                                            for slug in slugs) + "</ul></li>"

    html = ('<html><body><header><nav><a href="/">Home</a></nav></header><main><h1>Vega</h1><h2>Context</h2><p>Vega '
            f"measures how an option's price responds to implied volatility.</p><ul>{group('Terms', 'term', ['vanna'])}"
            f"{group('<strong>Definitions</strong>', 'definition', ['volga', 'veta'])}</ul></main></body></html>")
    record = extract_page(html.encode(), f"{BASE}/area/vega/").record
    assert [(link["kind"], link["to_url"]) for link in record["links"]] == [
        ("listing", f"{BASE}/term/vanna/"), ("listing", f"{BASE}/definition/volga/"),
        ("listing", f"{BASE}/definition/veta/")]
    assert record["body_text"] == "Context\n\nVega measures how an option's price responds to implied volatility."
    # An item with words of its own before its links is text, not a label.
    told = html.replace("<li>Terms<ul>", "<li>Terms that traders weigh when they price a vega position<ul>")
    assert "Terms that traders weigh" in extract_page(told.encode(), f"{BASE}/area/vega/").record["body_text"]


def test_an_areas_posts_titled_by_bold_links_over_their_meaning_lines_are_its_listing():
    """Each post a paragraph that is a bold link alone, then its Meaning line: they were inline links, and the
    titles and the summaries the page's text."""
    posts = "".join(f'<p><strong><a href="/definition/{slug}/">{slug.title()}</a></strong></p><p>Meaning ⎊ '
                    f"{slug.title()} in one line.</p>" for slug in ("delta", "gamma"))
    html = ("<html><body><main><h1>Vega</h1><h2>Context</h2><p>Vega measures how an option's price responds to "
            f"implied volatility.</p><h3>Definitions</h3>{posts}</main></body></html>")
    record = extract_page(html.encode(), f"{BASE}/area/vega/").record
    assert [(link["kind"], link["to_url"], link["summary"]) for link in record["links"]] == [
        ("listing", f"{BASE}/definition/{slug}/", f"{slug.title()} in one line.") for slug in ("delta", "gamma")]
    assert [s["heading"] for s in record["sections"]] == ["Context"]
    assert record["body_text"] == "Context\n\nVega measures how an option's price responds to implied volatility."
    # On a definition, such a line is its text's: a post's own paragraphs list nothing.
    definition = extract_page(html.replace("<h1>Vega</h1>", "<h1>Vega ⎊ Definition</h1>").encode(),
                              f"{BASE}/definition/vega/").record
    assert "Delta\n\nMeaning ⎊ Delta in one line." in definition["body_text"]


@pytest.mark.parametrize("pager", [
    '<a class="page-numbers" href="/area/vega/resource/1/"><span class="screen-reader-text">Page</span>2</a>',
    '<a class="next" href="/area/vega/resource/1/"><i class="icon-arrow"></i><span class="screen-reader-text">Go to '
    "the next page</span></a>"], ids=["page-label", "go-to-the-next-page"])
def test_a_pager_labelled_for_screen_readers_is_pagination(pager):
    """Twenty Sixteen's page numbers read "Page2" (a screen-reader label before the number), OceanWP's next link
    "Go to the next page": neither was taken for a pager, and the next page's link was recorded nowhere."""
    posts = "".join(f'<article><h2><a href="/definition/{slug}/">{slug.title()}</a></h2><p>Meaning ⎊ {slug.title()} '
                    "in one line.</p></article>" for slug in ("delta", "gamma", "rho"))
    html = (f'<html><body><main><h1>Vega</h1>{posts}<div class="pagination"><span aria-current="page" class='
            f'"page-numbers current"><span class="screen-reader-text">Page</span>1</span>{pager}</div></main></body>'
            "</html>")
    record = extract_page(html.encode(), f"{BASE}/area/vega/").record
    assert [link["to_url"] for link in record["links"] if link["kind"] == "pagination"] == [
        f"{BASE}/area/vega/resource/1/"]


def test_a_posts_links_to_its_neighbours_and_a_cards_comment_count_are_no_pagination():
    """A definition's links to the posts before and after it (WordPress's post navigation, rel=prev/next) were
    recorded as pagination, which the contract keeps for the pages of a listing; so was a listed post's comment
    count ("0", a link to the post's #respond)."""
    navigation = ('<div class="post-navigation"><a rel="prev" href="/definition/delta/">Delta</a><a rel="next" '
                  'href="/term/gamma/">Gamma</a></div>')
    definition = extract_page(_definition_with(navigation).encode(), f"{BASE}/definition/vega/").record
    assert [link for link in definition["links"] if link["kind"] == "pagination"] == []
    # A definition's own pages (<!--nextpage-->) are its pagination.
    own = '<div class="page-links"><a href="/definition/vega/2/">2</a></div>'
    paged = extract_page(_definition_with(own).encode(), f"{BASE}/definition/vega/").record
    assert [link["to_url"] for link in paged["links"] if link["kind"] == "pagination"] == [f"{BASE}/definition/vega/2/"]
    cards = "".join(f'<article><h2><a href="/definition/{slug}/">{slug.title()}</a></h2><p>Meaning ⎊ {slug.title()} '
                    f'in one line.</p><div class="meta"><a href="/definition/{slug}/#respond">0</a></div></article>'
                    for slug in ("delta", "gamma"))
    area = extract_page(f"<html><body><main><h1>Vega</h1>{cards}</main></body></html>".encode(), f"{BASE}/area/vega/")
    assert [(link["kind"], link["summary"]) for link in area.record["links"]] == [
        ("listing", "Delta in one line."), ("listing", "Gamma in one line.")]


def test_a_post_titled_twice_in_its_card_is_listed_once_with_its_summary():
    """Avada titles each card twice, in the image's overlay and under it: each post was listed twice, the first
    time without its summary."""
    cards = "".join(f'<article><div class="rollover"><h4><a href="/definition/{slug}/">{slug.title()}</a></h4></div>'
                    f'<h2><a href="/definition/{slug}/">{slug.title()}</a></h2><p>Meaning ⎊ {slug.title()} in one '
                    "line.</p></article>" for slug in ("delta", "gamma"))
    record = extract_page(f"<html><body><main><h1>Vega</h1>{cards}</main></body></html>".encode(),
                          f"{BASE}/area/vega/").record
    assert [(link["kind"], link["to_url"], link["summary"]) for link in record["links"]] == [
        ("listing", f"{BASE}/definition/{slug}/", f"{slug.title()} in one line.") for slug in ("delta", "gamma")]


def test_an_author_box_after_discover_more_is_no_item_of_it():
    """An author box whose name is a linked heading (OceanWP's, Elementor's), after the Discover More section, was
    read as one more of its items: only the glossary's entries are."""
    section = ('<section><h2>Discover More</h2><div class="item"><h3><a href="/term/gamma/">Gamma</a></h3><p>'
               'Meaning ⎊ The rate of change of delta.</p></div></section><section id="author-bio"><h4><a href='
               '"/author/jane/">Jane Doe</a></h4><p>Jane writes about options.</p></section>')
    record = extract_page(_definition_with(section).encode(), f"{BASE}/definition/vega/").record
    assert [(link["kind"], link["to_url"]) for link in record["links"]] == [("discover_more", f"{BASE}/term/gamma/")]


def test_a_date_its_markup_names_goes_by_that_before_its_place():
    """GeneratePress writes the edit's <time class="updated" itemprop="dateModified"> before the publication's: the
    edit's date was taken for the publication's, and none for the edit's."""
    meta = ('<div class="entry-meta"><span class="posted-on"><time class="updated" datetime="2026-03-20T10:00:00'
            '+00:00" itemprop="dateModified">March 20, 2026</time><time class="entry-date published" datetime='
            '"2026-02-11T09:14:00+00:00" itemprop="datePublished">February 11, 2026</time></span> by <a rel="author" '
            'href="/author/jane/">Jane Doe</a></div>')
    html = _definition_with("").replace("<h2>Vega</h2>", meta + "<h2>Vega</h2>")
    record = extract_page(html.encode(), f"{BASE}/definition/vega/").record
    assert (record["published"], record["modified"]) == ("2026-02-11T09:14:00+00:00", "2026-03-20T10:00:00+00:00")


def test_a_related_posts_box_after_discover_more_is_none_of_its_items():
    """Jetpack's related posts (in the post's content), or a theme's "You Might Also Like", after the Discover More
    section: an unlinked heading at its items' level was passed over, and every post of the box became one more
    Discover More item. Labels above the items' level still group them ("Terms", "Definitions")."""
    def item(level, href, title, summary=None):
        return (f'<div><h{level}><a href="{href}">{title}</a></h{level}>'
                + (f"<p>Meaning ⎊ {summary}</p>" if summary else "") + "</div>")

    section = ("<h2>Discover More</h2>" + item(3, "/term/gamma/", "Gamma", "The rate of change of delta.")
               + '<div id="jp-relatedposts"><h3><em>Related</em></h3>'
               + item(4, "/definition/rho/", "Rho", "Excerpt of Rho.") + '<p class="date">February 3, 2026</p></div>')
    record = extract_page(_definition_with(section).encode(), f"{BASE}/definition/vega/").record
    assert [(link["kind"], link["to_url"], link["summary"]) for link in record["links"]] == [
        ("discover_more", f"{BASE}/term/gamma/", "The rate of change of delta.")]
    assert record["body_text"] == ("Vega\n\nVega measures how far an option's price moves when implied volatility "
                                   "moves a point.")
    grouped = ("<h2>Discover More</h2><h3>Terms</h3>" + item(4, "/term/gamma/", "Gamma") + "<h3>Definitions</h3>"
               + item(4, "/definition/rho/", "Rho"))
    record = extract_page(_definition_with(grouped).encode(), f"{BASE}/definition/vega/").record
    assert [(link["kind"], link["to_url"]) for link in record["links"]] == [
        ("discover_more", f"{BASE}/term/gamma/"), ("discover_more", f"{BASE}/definition/rho/")]


@pytest.mark.parametrize("contents", [
    '<div id="ez-toc-container"><div class="ez-toc-title-container"><p class="ez-toc-title">Table of Contents</p><span>'
    '<a href="#" class="ez-toc-toggle" aria-label="Toggle Table of Content"></a></span></div><nav><ul><li><a href='
    '"#Vega">Vega</a></li><li><a href="#Discover_More">Discover More</a></li></ul></nav></div>',
    '<div class="toc"><details><summary><span class="details">Table of Contents</span></summary><div class="inner"><ul>'
    '<li><a href="#vega">Vega</a></li></ul></div></details></div>'], ids=["easy-toc", "papermod"])
def test_a_table_of_contents_title_is_no_text_of_the_page(contents):
    """A table of contents' title (Easy Table of Contents', Hugo PaperMod's <details>) was the first words of the
    body; its links, within the page, were rightly recorded nowhere."""
    html = _definition_with("").replace("<h2>Vega</h2>", contents + "<h2>Vega</h2>")
    record = extract_page(html.encode(), f"{BASE}/definition/vega/").record
    assert record["body_text"] == ("Vega\n\nVega measures how far an option's price moves when implied volatility "
                                   "moves a point.")


def test_meta_lines_parted_by_line_breaks_are_read_apart():
    """The Published, Author and Categories lines written in one paragraph, parted by <br> (a Markdown renderer's
    hard breaks): the author was 'Greeks.live Categories: Definition', and the page had no category."""
    meta = ("<p><strong>Published:</strong> 2026-02-11<br><strong>Author:</strong> Greeks.live<br><strong>Categories:"
            "</strong> Definition</p>")
    html = _definition_with("").replace("<h2>Vega</h2>", meta + "<h2>Vega</h2>")
    record = extract_page(html.encode(), f"{BASE}/definition/vega/").record
    assert (record["author"], record["categories"]) == ("Greeks.live", ["Definition"])
