"""The tree readers: the compiled ones (``_tree``) give what their pure-Python twins give, reader by reader
and record by record, on the golden samples, the replica's themes, markup made to trip them and random
markup."""

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import itertext_apart
from lxml import etree

from glossary_spider.extraction import content, extract_page, tree
from glossary_spider.extraction.page import _markup, _parse, decode
from glossary_spider.replica import ReplicaSite, themes

SAMPLES = Path(__file__).parent / "samples"
BASE = "https://term.greeks.live"
PATHS = ("/definition/international-legal-cooperation/", "/term/legal-risk-management/", "/area/funding/",
         "/area/options/resource/1/")

# Markup that the compiled readers must read as lxml reads it: comments, processing instructions and text
# between and after elements, white space beyond ASCII, names in upper case and beyond ASCII, attributes
# without a value or with character references, comment threads, navigation roles, meta marks, links in
# links, and text past line 65,535 (where libxml2's nodes no longer hold their line).
TRICKY = (
    "<html lang=en><head><title> T </title><meta property='og:site_name' content='Site'></head><body itemscope>"
    "<DIV ID='main' class=''><h1>Vega<!-- c -->\u00a0<b>ratio</b> </h1>"
    "<p>one  two\ttwo<br>three\u3000four\u2028five\u2029six\x1csev\u200ben</p><p class>plain words here</p>"
    "<div> <span>a</span>  b<?pi x?>c <em>d\n e</em> <a href='/x'>in <a href=''>link</a> out</a> tail</div>"
    "<nav role=navigation><p>in the nav</p></nav><section id='comments'><p>a comment</p></section>"
    "<div class='commentary'><p>not a thread</p></div><p role='navigation'>a navigation paragraph</p>"
    "<Dİv>odd name</Dİv><a rel=' author\tx' href='/a'>Ann</a><a rel='authors' href='/b'>B</a>"
    "<time datetime='2024-01-02'>2 Jan</time><a href='&#47;amp&amp;'>amp</a></DIV>"
    + "\n" * 70_000 + "<h2>after many lines</h2><p>late</p><ul><li>x</li></ul></body></html>")


def _random_page(seed: int) -> bytes:
    """Markup of random names, attributes, texts, comments and nesting (the same for a seed)."""
    rng = random.Random(seed)
    names = ["div", "p", "span", "a", "h1", "h2", "h3", "ul", "li", "nav", "footer", "aside", "section", "time",
             "em", "b", "br", "table", "td", "main", "article", "header", "blockquote", "DIV", "Span", "x-y"]
    attributes = ["", " class='c'", " class", " id='comments'", " class='comment-list x'", " id='respond'",
                  " role='navigation'", " rel='author'", " rel='tag x'", " rel='authors'", " href='/p'", " href=''",
                  " href='http://e.com/&#47;x'", " itemscope", " id='a&amp;b'"]
    texts = ["", " ", "word", "  two  words ", "\u00a0nbsp\u00a0", "\u3000ideo ", "tab\there", "line\nbreak",
             "⎊ Meaning ⎊ ", "x\x1cy", "&amp; &#47;", "Published: 2024-01-02", "é" * 40, "\n" * 3]

    def element(depth: int) -> str:
        name = rng.choice(names)
        inner = "".join(rng.choice([rng.choice(texts), "<!-- c -->", "<?pi x?>", ""]) +
                        (element(depth + 1) if depth < 7 and rng.random() < 0.6 else "")
                        for _ in range(rng.randint(0, 4)))
        return f"<{name}{rng.choice(attributes)}{rng.choice(attributes)}>{inner}</{name}>{rng.choice(texts)}"

    body = "".join(element(0) for _ in range(rng.randint(1, 6)))
    return f"<html><head><title>Page {seed}</title></head><body>{body}</body></html>".encode()


def _pages() -> dict[str, bytes]:
    pages = {"tricky": TRICKY.encode()}
    pages.update({path.stem: path.read_bytes() for path in sorted(SAMPLES.glob("*.html"))})
    site = ReplicaSite(200)
    for path in PATHS:
        for theme in ("classic", "block", "plain"):
            doc = site.document(path, BASE)
            doc["theme"] = theme
            pages[f"{theme}{path}"] = themes.render(doc).encode()
    pages["deep"] = b"<html><body><main><h1>Deep</h1>" + b"<div><p>x</p>" * 3000 + b"</main></body></html>"
    pages.update({f"random-{seed}": _random_page(seed) for seed in range(40)})
    return pages


PAGES = _pages()


def _root(name: str) -> etree._Element:
    root, _ = _parse(_markup(decode(PAGES[name])), BASE + "/")
    etree.strip_elements(root, "script", "style", "noscript", "template", with_tail=False)
    return root


def test_the_compiled_readers_are_built():
    if os.environ.get("GLOSSARY_PURE_PYTHON"):
        pytest.skip("GLOSSARY_PURE_PYTHON turns the compiled readers off")
    assert tree.COMPILED, "glossary_spider/extraction/_tree.pyx is not built: `make install` with a C compiler"


compiled = pytest.mark.skipif(not tree.COMPILED, reason="the compiled readers are not in use")


@compiled
def test_the_compiled_readers_keep_apart_the_same_elements_as_the_pure_ones():
    """``_tree._separates`` holds the names of ``tree.SEPARATED`` in C: each name there, and none other."""
    from glossary_spider.extraction import _tree

    for name in sorted(tree.SEPARATED | content.INLINE | {"span", "font", "label", "button"}):
        void = name in ("br", "hr", "wbr")  # no content, no end tag
        markup = f"<div>a<{name}>bc</div>" if void else f"<div>a<{name}>b</{name}>c</div>"
        element = etree.fromstring(markup, etree.HTMLParser()).find(".//div")
        apart = ("a bc" if void else "a b c") if name in tree.SEPARATED else "abc"
        assert (_tree.text_of(element), tree._text_of(element)) == (apart, apart), name


@compiled
@pytest.mark.parametrize("name", sorted(PAGES))
def test_each_element_is_read_alike(name):
    from glossary_spider.extraction import _tree

    root = _root(name)
    texts = {p: tree._text_of(p) for p in root.iter("p")}
    elements = [*root.iter(etree.Element)]
    for element in elements[::1 + len(elements) // 100]:  # each reads a subtree: at most 100 of them
        assert _tree.raw_text(element) == tree._raw_text(element) == itertext_apart(element)
        assert _tree.text_of(element) == tree._text_of(element) == " ".join(tree._raw_text(element).split())
        assert _tree.unlinked_text(element) == tree._unlinked_text(element)
        assert _tree.children(element) == tree._children(element)
        assert _tree.has_descendant(element, content.BLOCKS) == tree._has_descendant(element, content.BLOCKS)
        assert _tree.text_under(element, texts) == tree._text_under(element, texts)
        assert _tree.hrefs(element) == tree._hrefs(element)
        assert _tree.links_under(element) == tree._links_under(element)
        names = ("p", "a", "meta")
        assert _tree.elements_by_tag(element, names) == tree._elements_by_tag(element, names)
        names = ("id", "class", "href")
        assert _tree.attributes([element], names) == tree._attributes([element], names)
        for name_ in ("itemscope", "id", "class", "rel"):
            assert _tree.has_attribute(element, name_) == tree._has_attribute(element, name_)
        for size in (0, 16, 300):
            whole, head, twin = tree._text_of(element), _tree.text_head(element, size), tree._text_head(element, size)
            for start in (head, twin):  # all of it when short, else more than size characters of its start
                assert start == whole if len(whole) <= size else (len(start) > size and whole.startswith(start[:size]))
    for anchor in [*root.iter("h1", "h2")][:3]:
        for ancestor in anchor.iterancestors():
            assert _tree.following(ancestor, anchor, ("p", "li", "h2")) == [
                *tree._following(ancestor, anchor, ("p", "li", "h2"))]


@compiled
@pytest.mark.parametrize("name", sorted(PAGES))
def test_the_page_facts_are_found_alike(name):
    from glossary_spider.extraction import _tree

    root = _root(name)
    got = _tree.paragraph_facts(root, content.is_comments, {}, content.META_MAX)
    want = tree._paragraph_facts(root, content.is_comments, {}, content.META_MAX)
    assert got == want
    if name == "tricky":  # what the markup holds, so that the facts are not alike for being empty
        comments, navigation, chrome, h1s, times, texts, plain, long, meta = got
        assert [e.get("id") for e in comments] == ["comments"]
        assert {e.tag for e in navigation} == {"nav", "p"} and len(chrome) == 2
        assert len(h1s) == len(times) == 1 and "a comment" not in texts.values() and "late" in texts.values()
        assert {e.tag for e in meta} == {"div", "body", "html"}


def test_records_are_the_same_without_the_compiled_readers():
    """Every page extracted with the compiled readers (where built) and with the pure-Python ones."""
    script = ("import json, sys\nfrom glossary_spider.extraction import extract_page, tree\n"
              "pages = json.load(sys.stdin)\n"
              "records = {n: extract_page(b.encode('latin-1'), sys.argv[1]).record for n, b in pages.items()}\n"
              "print(json.dumps({'compiled': tree.COMPILED, 'records': records}))")
    sent = json.dumps({name: body.decode("latin-1") for name, body in PAGES.items()})
    runs = {}
    for pure in ("", "1"):
        env = {**os.environ, "GLOSSARY_PURE_PYTHON": pure}
        done = subprocess.run([sys.executable, "-c", script, BASE + "/x/"], input=sent, capture_output=True,
                              text=True, env=env, check=True)
        runs[pure] = json.loads(done.stdout)
    assert runs["1"]["compiled"] is False and runs[""]["compiled"] is tree.COMPILED
    assert runs[""]["records"] == runs["1"]["records"]
    assert runs[""]["records"]["tricky"]["title"] == "Vega ratio"
    here = extract_page(PAGES["tricky"], BASE + "/x/").record  # and in this process, as read from JSON
    assert json.loads(json.dumps(here)) == runs["1"]["records"]["tricky"]


def _markups() -> list[bytes]:
    """Markup that holds, or nearly holds, what may become a stray character in a record."""
    pieces = [b"&#", b"&#x", b"&#X", b"&#0", b"&#00031", b"&#32", b"&#126", b"&#127", b"&#159", b"&#160", b"&#x1f",
              b"&#x20", b"&#x7F", b"&#x7e", b"&#x9f", b"&#xa0", b"&#x0001F", b"&#x100", b"&#xzz", b"&#;", b"&amp;",
              b"\\", b"\\b", b"\\n", b"\\f", b"\\r", b"\\t", b"\\u0000", b"\\u001f", b"\\u0020", b"\\u007f",
              b"\\u007e", b"\\u0085", b"\\u00a0", b"\\u00", b"\xc2", b"\xc2\x80", b"\xc2\x9f", b"\xc2\xa0", b"\t",
              b"\n", b"\r", b"\x0b", b"\x00", b"\x7f", b"\x1b", b"9", b"f", b"x", b" ", "\u238a".encode(),
              # the invisible ones: soft hyphen, word joiner, zero-width no-break space; and their neighbours
              b"&#173", b"&#xad", b"&#xAD", b"&#x00000ad", b"&#174", b"&#xae", b"&#8288", b"&#x2060", b"&#65279",
              b"&#xfeff", b"&#xFEFF0", b"&#x1000ad", b"&#x10000000ad", b"&#1114285", b"&shy", b"&sh", b"&Shy",
              b"&NoBreak;", b"&NoBreak", b"\\u00ad", b"\\u00AD", b"\\u00ae", b"\\u2060", b"\\u2061", b"\\ufeff",
              b"\\uFEFF", b"\\ufef", b"\xc2\xad", b"\xc2\xae", b"\xe2\x81\xa0", b"\xe2\x81", b"\xe2\x81\xa1",
              b"\xef\xbb\xbf", b"\xef\xbb", b"\xef\xbb\xbe", b"a", b"e", b"0",
              # zero-width space, non-joiner and joiner; and their neighbours
              b"\xe2\x80\x8b", b"\xe2\x80\x8d", b"\xe2\x80\x8a", b"\xe2\x80\x8e", b"\xe2\x80", b"&#8203", b"&#8205",
              b"&#8202", b"&#8206", b"&#x200b", b"&#x200D", b"&#x200e", b"&ZeroWidthSpace;", b"&ZeroWidthSpace",
              b"&zwnj;", b"&zwj;", b"&zwj", b"&zw", b"\\u200b", b"\\u200D", b"\\u200e", b"\\u200",
              b"&NegativeThinSpace;", b"&NegativeVeryThinSpace;", b"&Negativ", b"&negative"]
    rng = random.Random(7)
    found = pieces + [b"<p>" + piece + b"</p>" for piece in pieces]
    found += [b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 6))) for _ in range(3000)]
    return found


@compiled
def test_stray_characters_are_looked_for_alike():
    from glossary_spider.extraction import _tree

    markups = _markups()
    markups += [b"x" * pad + markup for markup in markups[:400] for pad in range(1, 9)]  # across the eight-byte steps
    got = [_tree.may_hold_stray_characters(markup) for markup in markups]
    assert got == [tree._may_hold_stray_characters(markup) for markup in markups]
    assert 0 < sum(got) < len(got)


@pytest.mark.parametrize("count", [tree._word_count, pytest.param(tree.word_count, marks=compiled)])
def test_words_are_counted_in_scripts_written_without_spaces(count):
    """Japanese and Chinese write no space between words: a page of them was one word long. Each of their
    characters counts as a word, as word processors count them, and their punctuation as none."""
    assert count("Vega measures  the\u00a0change\n") == 4
    assert count("証拠金の計算。オプション") == 11  # 証拠金 の 計算 (6), 。 (none), オプション (5)
    assert count("期权 Delta 对冲，\u3000Gamma") == 6  # 期权 (2), Delta, 对冲 (2), Gamma; the full-width comma none
    assert count("ＧＢＰ／ＵＳＤ") == 2  # full-width letters are spaced words
    assert count("안녕하세요 세계") == 2  # Korean spaces its words
    assert count("、。") == 0
    assert count("トム・クルーズ") == 6 and count("人々") == 2  # the middle dot is punctuation; 々 repeats a character


@compiled
def test_words_are_counted_alike():
    from glossary_spider.extraction import _tree

    rng = random.Random(3)
    pieces = ["word", " ", "\u3000", "。", "、", "日本", "カナ", "ｶﾅ", "\U00020001", "，", "ＡＢ", "・", "々", "〇", "é",
              "\u00a0", "\n", "x\x1cy", "한글"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))) for _ in range(3000)]
    assert [_tree.word_count(text) for text in texts] == [tree._word_count(text) for text in texts]
