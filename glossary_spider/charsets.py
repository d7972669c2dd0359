"""The charsets a page may be read in: those of the WHATWG Encoding Standard, which browsers read pages by, and
UTF-32, which the standard dropped (with a byte order mark, or declared with NUL bytes to show it).

w3lib, Scrapy and Python's ``bytes.decode`` take any codec Python has for a label a page or its Content-Type
names. Some are no text encoding (``base64``, ``zlib``, ``rot13``: the page was lost as a ``LookupError``); some
read text as no browser does (``undefined`` fails on every byte; ``unicode_escape`` on an escaped surrogate);
``punycode``'s decoder takes time that grows with the square of the body's length (16 s for 300 KB, hours for a
few megabytes, in Scrapy's process). A browser ignores a label it does not know, and so does a crawl:
:func:`readable` says which codecs stand, and a page naming another is read as one that names none.

Importing this module registers the standard's labels that Python has no codec for (:func:`_whatwg_codec`).
"""

from __future__ import annotations

import codecs
import encodings

from w3lib.encoding import DEFAULT_ENCODING_TRANSLATION
from webencodings import LABELS as WHATWG_LABELS
from webencodings import lookup as whatwg_lookup

# The WHATWG Encoding Standard's labels, as Python's codec registry hands a name to a search function.
_WHATWG_LABELS = {encodings.normalize_encoding(label).lower(): label for label in WHATWG_LABELS}


def _whatwg_codec(name: str) -> codecs.CodecInfo | None:
    """The codec of a charset label of the WHATWG Encoding Standard (browsers read a page's by it) that Python
    has not: ``iso-8859-8-i``, ``koi8-ru``, ``x-gbk``, ``x-mac-cyrillic``; ``unicode`` and ``ucs-2``, UTF-16LE.
    Registered with the codec registry, so every lookup finds it, Python's own labels first: w3lib's of a
    Content-Type's and a ``<meta>``'s charset (and Scrapy's), which dropped such a label, and the page was
    read in an encoding guessed (or, UTF-16, refused as binary). An encoding is read as w3lib reads its
    Python name (``gbk`` as its superset ``gb18030``, as the standard does). The labels of the standard's
    replacement encoding (``iso-2022-cn``) remain unknown."""
    encoding = whatwg_lookup(_WHATWG_LABELS.get(encodings.normalize_encoding(name).lower(), ""))
    if encoding is None or encoding.name == "replacement":
        return None
    translated = DEFAULT_ENCODING_TRANSLATION.get(encoding.codec_info.name)
    return codecs.lookup(translated) if translated else encoding.codec_info


codecs.register(_whatwg_codec)


def _codecs() -> frozenset[str]:
    """The names of the codecs the standard's labels give (as w3lib reads each, and as Python names it), and
    those of UTF-16 and UTF-32 in either byte order or by their byte order mark."""
    names = {"utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"}
    for label in WHATWG_LABELS:
        if (codec := _whatwg_codec(label)) is not None:
            names.add(codecs.lookup(DEFAULT_ENCODING_TRANSLATION.get(codec.name, codec.name)).name)
            names.add(codec.name)
    return frozenset(names)


_READABLE = _codecs()


def readable(encoding: str | None) -> bool:
    """Whether a page is read in the codec ``encoding`` names (as w3lib resolves a declared label), rather than
    as a page that declares none."""
    if not encoding:
        return False
    try:
        return codecs.lookup(encoding).name in _READABLE
    except LookupError:
        return False
