"""Archive text on its way to a terminal: what would act on the terminal, or reorder or break what it shows,
is shown as an escape."""

import json
import os
import subprocess

from glossary_spider.terminal import safe_json, safe_text, shell_word, shown_path


def test_bidirectional_marks_and_controls_are_shown_as_escapes():
    # The right-to-left mark and override, the Arabic letter mark, an isolate: each reorders what is shown.
    assert safe_text("a\u200fb\u202ec\u061cd\u2067e") == "a\\u200fb\\u202ec\\u061cd\\u2067e"
    assert safe_json('"\u200e"') == '"\\u200e"'


def test_one_line_holds_no_line_or_paragraph_separator():
    assert safe_text("Alpha\u2028Beta\u2029Gamma\x85Delta\nEpsilon", one_line=True) == (
        "Alpha\\u2028Beta\\u2029Gamma\\x85Delta\\x0aEpsilon")
    assert safe_text("Alpha\u2028Beta\nGamma") == "Alpha\u2028Beta\nGamma"  # many lines: as they are


def test_a_path_is_shown_as_bash_takes_it_back_and_as_json_can_hold_it():
    """A path's byte that is not UTF-8 was shown as Python's surrogate escape ("caf\\udce9.db"), which no shell
    reads back and JSON holds only as a lone surrogate."""
    paths = [os.fsdecode(b"caf\xe9.db"), "new\nline.db", "it's \\ a\u202e.db", "plain-path.db", "caf\u00e9 2.db"]
    words = [shell_word(path) for path in paths]
    assert words[:2] == ["$'caf\\xe9.db'", "$'new\\x0aline.db'"] and words[3] == "plain-path.db"
    echoed = subprocess.run(["bash", "-c", "printf '%s\\0' " + " ".join(words)], capture_output=True, check=True)
    assert echoed.stdout.split(b"\0")[:-1] == [os.fsencode(path) for path in paths]
    assert safe_text(paths[0]) == shown_path(paths[0]) == "caf\\xe9.db"
    assert json.loads(safe_json(json.dumps(paths[0], ensure_ascii=False))) == "caf\\xe9.db"
