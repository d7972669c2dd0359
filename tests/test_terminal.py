"""Archive text on its way to a terminal: what would act on the terminal, or reorder or break what it shows,
is shown as an escape."""

from glossary_spider.terminal import safe_json, safe_text


def test_bidirectional_marks_and_controls_are_shown_as_escapes():
    # The right-to-left mark and override, the Arabic letter mark, an isolate: each reorders what is shown.
    assert safe_text("a\u200fb\u202ec\u061cd\u2067e") == "a\\u200fb\\u202ec\\u061cd\\u2067e"
    assert safe_json('"\u200e"') == '"\\u200e"'


def test_one_line_holds_no_line_or_paragraph_separator():
    assert safe_text("Alpha\u2028Beta\u2029Gamma\x85Delta\nEpsilon", one_line=True) == (
        "Alpha\\u2028Beta\\u2029Gamma\\x85Delta\\x0aEpsilon")
    assert safe_text("Alpha\u2028Beta\nGamma") == "Alpha\u2028Beta\nGamma"  # many lines: as they are
