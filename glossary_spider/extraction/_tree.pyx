# cython: language_level=3, boundscheck=False, wraparound=False
"""The readers of ``glossary_spider.extraction.tree``, reading libxml2's nodes directly.

Each gives exactly what its pure-Python twin in ``tree.py`` gives, without an lxml element made for every
node passed on the way. Only the nodes' fields are read, and no libxml2 function is called: this module
links to nothing but Python, and lxml's elements are reached through lxml's public C API.
"""

from cpython.pyport cimport PY_SSIZE_T_MAX
from cpython.unicode cimport Py_UNICODE_ISSPACE, PyUnicode_DecodeUTF8
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcmp, memcpy, strcmp, strlen, strstr

cimport lxml.includes.etreepublic as cetree
from lxml.includes cimport tree
from lxml.includes.etreepublic cimport _Document, _Element

cetree.import_lxml__etree()

ctypedef tree.xmlNode Node

# What an attribute lookup found: nothing, a value held in the tree (or empty), or a value written in
# several nodes (never made by the HTML parser), read through lxml instead.
cdef enum:
    ABSENT = 0
    FOUND = 1
    SPLIT = 2

cdef const char* EMPTY = ""

# -- text ---------------------------------------------------------------------------------------------

cdef struct Buffer:
    char* data
    Py_ssize_t size
    Py_ssize_t room
    bint space        # white space read since the last character kept
    bint wide_space   # white space beyond ASCII met: folded by Python's own split()
    Py_ssize_t limit  # bytes past which no more is read


cdef inline bint _ascii_space(unsigned char c) noexcept nogil:
    # What str.split() takes for white space among ASCII characters.
    return c == 32 or 9 <= c <= 13 or 28 <= c <= 31


cdef inline bint _wide_space(const unsigned char* s) noexcept nogil:
    """Whether the UTF-8 character at ``s`` is white space beyond ASCII (U+0085, U+00A0, U+1680,
    U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000)."""
    if s[0] == 0xC2:
        return s[1] == 0x85 or s[1] == 0xA0
    if s[0] == 0xE1:
        return s[1] == 0x9A and s[2] == 0x80
    if s[0] == 0xE2:
        if s[1] == 0x80:
            return s[2] <= 0x8A or s[2] == 0xA8 or s[2] == 0xA9 or s[2] == 0xAF
        return s[1] == 0x81 and s[2] == 0x9F
    if s[0] == 0xE3:
        return s[1] == 0x80 and s[2] == 0x80
    return False


cdef int _append(Buffer* out, const unsigned char* s) except -1:
    """Append ``s`` with each run of ASCII white space made one space, none at the start."""
    cdef Py_ssize_t i = 0
    cdef unsigned char c
    cdef char* grown
    while s[i] != 0 and out.size <= out.limit:
        c = s[i]
        if _ascii_space(c):
            out.space = out.size > 0
        else:
            if c >= 0xC2 and not out.wide_space and _wide_space(s + i):
                out.wide_space = True
            if out.size + 2 > out.room:
                grown = <char*>realloc(out.data, 2 * out.room + 64)
                if grown is NULL:
                    raise MemoryError()
                out.data = grown
                out.room = 2 * out.room + 64
            if out.space:
                out.data[out.size] = 32
                out.size += 1
                out.space = False
            out.data[out.size] = <char>c
            out.size += 1
        i += 1
    return 0


cdef int _copy(Buffer* out, const unsigned char* s) except -1:
    """Append ``s`` as written."""
    cdef Py_ssize_t size = strlen(<const char*>s)
    cdef char* grown
    if out.size + size > out.room:
        grown = <char*>realloc(out.data, 2 * out.room + size)
        if grown is NULL:
            raise MemoryError()
        out.data = grown
        out.room = 2 * out.room + size
    memcpy(out.data + out.size, s, size)
    out.size += size
    return 0


cdef bint _separates(const char* name) noexcept:
    """Whether text on either side of an element of this name is two texts, not one (``tree.SEPARATED``):
    a line break, a block, a list item, a table cell. Tested by its first letter first, for speed."""
    cdef char c = name[0]
    if c == b"p":
        return name[1] == 0 or strcmp(name, "pre") == 0
    if c == b"d":
        return (strcmp(name, "div") == 0 or strcmp(name, "dd") == 0 or strcmp(name, "dt") == 0
                or strcmp(name, "dl") == 0 or strcmp(name, "details") == 0 or strcmp(name, "dialog") == 0)
    if c == b"l":
        return strcmp(name, "li") == 0 or strcmp(name, "legend") == 0 or strcmp(name, "listing") == 0
    if c == b"t":
        return (strcmp(name, "td") == 0 or strcmp(name, "th") == 0 or strcmp(name, "tr") == 0
                or strcmp(name, "table") == 0 or strcmp(name, "thead") == 0 or strcmp(name, "tbody") == 0
                or strcmp(name, "tfoot") == 0)
    if c == b"b":
        return strcmp(name, "br") == 0 or strcmp(name, "blockquote") == 0
    if c == b"h":
        return ((name[1] >= b"1" and name[1] <= b"6" and name[2] == 0) or strcmp(name, "hr") == 0
                or strcmp(name, "header") == 0)
    if c == b"u":
        return strcmp(name, "ul") == 0
    if c == b"o":
        return strcmp(name, "ol") == 0 or strcmp(name, "option") == 0
    if c == b"f":
        return (strcmp(name, "figure") == 0 or strcmp(name, "figcaption") == 0 or strcmp(name, "footer") == 0
                or strcmp(name, "form") == 0 or strcmp(name, "fieldset") == 0)
    if c == b"s":
        return strcmp(name, "section") == 0 or strcmp(name, "summary") == 0 or strcmp(name, "search") == 0
    if c == b"a":
        return strcmp(name, "article") == 0 or strcmp(name, "aside") == 0 or strcmp(name, "address") == 0
    if c == b"m":
        return strcmp(name, "main") == 0 or strcmp(name, "menu") == 0
    if c == b"c":
        return strcmp(name, "caption") == 0 or strcmp(name, "center") == 0
    if c == b"x":
        return strcmp(name, "xmp") == 0
    if c == b"n":
        return strcmp(name, "nav") == 0
    return False


cdef int _separate(Buffer* out, Node* node, bint fold) except -1:
    """Keep the texts on either side of ``node``, an element, apart if it :func:`_separates` them: one
    space, folded; as written, a line break for a ``<br>`` and a space for the others."""
    if not _separates(<const char*>node.name):
        return 0
    if fold:
        out.space = out.size > 0
    else:
        _copy(out, <const unsigned char*>(b"\n" if _named(node, "br") else b" "))
    return 0


cdef int _gather(Buffer* out, Node* top, bint fold, bint outside_links) except -1:
    """The text and CDATA under ``top``, in document order (comments and processing instructions are not
    text), the texts on either side of a line break or a block kept apart (:func:`_separate`): ``fold``ed
    (:func:`_append`, up to ``out.limit`` bytes) or as written; with ``outside_links``, none inside an
    ``<a>``."""
    cdef Node* node = top.children
    while node is not NULL:
        if node.type == tree.XML_TEXT_NODE or node.type == tree.XML_CDATA_SECTION_NODE:
            if node.content is not NULL:
                if not fold:
                    _copy(out, node.content)
                else:
                    _append(out, node.content)
                    if out.size > out.limit:
                        return 0
        elif node.type == tree.XML_ELEMENT_NODE:
            _separate(out, node, fold)
            if node.children is not NULL and not (outside_links and _named(node, "a")):
                node = node.children
                continue
        while node.next is NULL:
            node = node.parent
            if node is top or node is NULL:
                return 0
            _separate(out, node, fold)
        node = node.next
    return 0


cdef str _read(Node* top, bint fold, bint outside_links=False, Py_ssize_t limit=PY_SSIZE_T_MAX):
    """:func:`_gather`'s text. Folded, it is as ``" ".join(text.split())`` makes it; read no further than
    ``limit`` bytes, its last character may be cut, and is left out."""
    cdef Buffer out = Buffer(<char*>malloc(256), 0, 256, False, False, limit)
    if out.data is NULL:
        raise MemoryError()
    try:
        _gather(&out, top, fold, outside_links)
        text = PyUnicode_DecodeUTF8(out.data, out.size, "ignore" if out.size > limit else "strict")
    finally:
        free(out.data)
    if out.wide_space:  # white space beyond ASCII, folded by split(), which may make a cut text shorter
        return " ".join((text if out.size <= limit else _read(top, True)).split())
    return text


def text_of(_Element element):
    """All the text under the element, each run of white space one space, none at either end."""
    return _read(element._c_node, True)


def text_head(_Element element, Py_ssize_t size):
    """The start of :func:`text_of`: all of it if it is at most ``size`` characters long, else more than
    ``size`` of its first characters. Reads no further into the element than that."""
    return _read(element._c_node, True, False, 4 * size + 4)  # past 4 bytes a character, more than size


# -- attributes and names -----------------------------------------------------------------------------

cdef inline bint _named(Node* node, const char* name) noexcept:
    return strcmp(<const char*>node.name, name) == 0


cdef int _attribute(Node* node, const char* name, const char** value) noexcept:
    """Where ``node``'s attribute ``name`` (in no namespace, as ``element.get`` reads it) is: ABSENT,
    FOUND (``value`` set), or SPLIT."""
    cdef tree.xmlAttr* attribute = node.properties
    cdef Node* child
    while attribute is not NULL:
        if attribute.ns is NULL and strcmp(<const char*>attribute.name, name) == 0:
            child = attribute.children
            if child is NULL:
                value[0] = EMPTY
                return FOUND
            if child.next is NULL and child.type == tree.XML_TEXT_NODE and child.content is not NULL:
                value[0] = <const char*>child.content
                return FOUND
            return SPLIT
        attribute = attribute.next
    return ABSENT


cdef bytes _split_value(_Document doc, Node* node, str name):
    return cetree.elementFactory(doc, node).get(name).encode("utf-8")


cdef int _value(_Document doc, Node* node, const char* name, const char** value, list keep) except -1:
    """As :func:`_attribute`, with a value written in several nodes read through lxml (and held in ``keep``)."""
    cdef int found = _attribute(node, name, value)
    cdef bytes joined
    if found == SPLIT:
        joined = _split_value(doc, node, name.decode("ascii"))
        keep.append(joined)
        value[0] = joined
        return FOUND
    return found


# -- links under each element -------------------------------------------------------------------------

def links_under(_Element root):
    """The links (``<a>`` with a non-empty ``href``) under each element of
    ``root``'s subtree, itself included, in document order; elements without links are not keys."""
    cdef _Document doc = root._doc
    cdef Node* top = root._c_node
    cdef Node* node = top
    cdef Node* holder
    cdef const char* href
    cdef list keep = []
    cdef dict found = {}
    cdef list links
    while node is not NULL:
        if node.type == tree.XML_ELEMENT_NODE:
            if _named(node, "a") and _value(doc, node, "href", &href, keep) == FOUND and href[0] != 0:
                link = cetree.elementFactory(doc, node)
                holder = node
                while True:
                    element = link if holder is node else cetree.elementFactory(doc, holder)
                    links = found.get(element)
                    if links is None:
                        found[element] = links = []
                    links.append(link)
                    if holder is top:
                        break
                    holder = holder.parent
        node = _following(node, top)
    return found


cdef inline Node* _following(Node* node, Node* top) noexcept:
    """The node after ``node`` in document order, within ``top``'s subtree: an element's first child, else
    :func:`_next`; NULL at its end."""
    if node.type == tree.XML_ELEMENT_NODE and node.children is not NULL:
        return node.children
    return _next(node, top)


cdef inline Node* _next(Node* node, Node* top) noexcept:
    """The node after ``node`` and its subtree in document order, within ``top``'s subtree; NULL at its end."""
    if node is top:
        return NULL
    while node.next is NULL:
        node = node.parent
        if node is top or node is NULL:
            return NULL
    return node.next


# -- the page's paragraphs and marks --------------------------------------------------------------------

cdef bint _contains_comment_word(const char* value) noexcept:
    # What tree._COMMENT_CANDIDATES_XPATH looks for in an id or a class.
    return (strstr(value, "omment") is not NULL or strstr(value, "espond") is not NULL
            or strstr(value, "eplies") is not NULL or strstr(value, "isqus") is not NULL)


cdef bint _is_meta_rel(const char* rel) noexcept:
    """Whether a ``rel`` holds the word author, category or tag (words split at XPath's white space)."""
    cdef const char* start = rel
    cdef const char* end
    cdef Py_ssize_t size
    while start[0] != 0:
        while start[0] == 32 or start[0] == 9 or start[0] == 10 or start[0] == 13:
            start += 1
        end = start
        while end[0] != 0 and not (end[0] == 32 or end[0] == 9 or end[0] == 10 or end[0] == 13):
            end += 1
        size = end - start
        if ((size == 6 and _prefix(start, "author")) or (size == 8 and _prefix(start, "category"))
                or (size == 3 and _prefix(start, "tag"))):
            return True
        start = end
    return False


cdef inline bint _prefix(const char* text, const char* word) noexcept:
    cdef Py_ssize_t i = 0
    while word[i] != 0:
        if text[i] != word[i]:
            return False
        i += 1
    return True


cdef int _add_ancestors(_Document doc, Node* node, set found) except -1:
    """Add ``node``'s ancestors (elements) to ``found``, up to the first already there (whose own are too)."""
    node = node.parent
    while node is not NULL and node.type == tree.XML_ELEMENT_NODE:
        element = cetree.elementFactory(doc, node)
        if element in found:
            return 0
        found.add(element)
        node = node.parent
    return 0


def paragraph_facts(_Element root, is_comments, dict texts, Py_ssize_t long_size):
    """What ``content.ParagraphText`` finds of the page under ``root``, in one walk (``is_comments``: the
    test of an element that names a comment thread; ``texts``: the page's memo of folded texts, given each
    paragraph's; ``long_size``: the length of a long paragraph, in characters): its comment threads,
    navigation (elements of role navigation), chrome (those, navigation, footers and asides), ``<h1>``
    and ``<time>`` elements, the texts of its paragraphs outside chrome and comment threads, and the
    elements holding a paragraph without a class, a long paragraph, or a meta mark (a time, or a link
    to an author, a category or a tag); as a tuple in that order."""
    cdef _Document doc = root._doc
    cdef Node* top = root._c_node
    cdef Node* node = top
    cdef Node* inside = NULL  # the outermost chrome or comment thread the walk is in, if any
    cdef const char* value
    cdef list keep = []
    cdef set comments = set(), navigation = set(), chrome = set()
    cdef set plain = set(), long = set(), meta = set()
    cdef list h1s = [], times = []
    cdef dict found = {}
    cdef str paragraph
    cdef bint left_out
    while node is not NULL:
        if node.type == tree.XML_ELEMENT_NODE:
            left_out = False
            if ((_value(doc, node, "id", &value, keep) == FOUND and _contains_comment_word(value))
                    or (_value(doc, node, "class", &value, keep) == FOUND and _contains_comment_word(value))):
                element = cetree.elementFactory(doc, node)
                if is_comments(element):
                    comments.add(element)
                    left_out = True
            if _value(doc, node, "role", &value, keep) == FOUND and strcmp(value, "navigation") == 0:
                element = cetree.elementFactory(doc, node)
                navigation.add(element)
                chrome.add(element)
                left_out = True
            if _named(node, "p"):
                element = cetree.elementFactory(doc, node)
                if not (left_out or inside is not NULL):
                    paragraph = texts.get(element)
                    if paragraph is None:
                        texts[element] = paragraph = _read(node, True)
                    found[element] = paragraph
                    if len(paragraph) >= long_size:
                        _add_ancestors(doc, node, long)
                if _attribute(node, "class", &value) == ABSENT:
                    _add_ancestors(doc, node, plain)
            elif _named(node, "h1"):
                h1s.append(cetree.elementFactory(doc, node))
            elif _named(node, "time"):
                times.append(cetree.elementFactory(doc, node))
                _add_ancestors(doc, node, meta)
            elif _named(node, "nav") or _named(node, "footer") or _named(node, "aside"):
                chrome.add(cetree.elementFactory(doc, node))
                left_out = True
            elif (node is not top and _named(node, "a") and _value(doc, node, "rel", &value, keep) == FOUND
                  and _is_meta_rel(value)):
                _add_ancestors(doc, node, meta)
            if left_out and inside is NULL:
                inside = node
            if node.children is not NULL:
                node = node.children
                continue
        # Leave the node, and each ancestor it was the last child of.
        while True:
            if node is inside:
                inside = NULL
            if node is top:
                node = NULL
                break
            if node.next is not NULL:
                node = node.next
                break
            node = node.parent
    return comments, navigation, chrome, h1s, times, found, plain, long, meta


# -- more of the walk ------------------------------------------------------------------------------------

def text_under(_Element element, dict texts):
    """The length of the paragraph texts (``texts``, by paragraph) under ``element``, itself included."""
    cdef _Document doc = element._doc
    cdef Node* top = element._c_node
    cdef Node* node = top
    cdef Py_ssize_t size = 0
    while node is not NULL:
        if node.type == tree.XML_ELEMENT_NODE:
            if _named(node, "p"):
                paragraph = texts.get(cetree.elementFactory(doc, node))
                if paragraph is not None:
                    size += len(<str>paragraph)
        node = _following(node, top)
    return size


cdef inline bint _unspaced(Py_UCS4 c) noexcept:
    """Whether ``c`` is of a script written without spaces between its words (``tree.UNSPACED``)."""
    return (0x3040 <= c <= 0x30FF and c != 0x30FB or 0x31F0 <= c <= 0x31FF or 0x3400 <= c <= 0x4DBF
            or 0x4E00 <= c <= 0x9FFF or 0xF900 <= c <= 0xFAFF or 0xFF66 <= c <= 0xFF9F or 0x20000 <= c <= 0x3134F
            or 0x3005 <= c <= 0x3007 or 0x3021 <= c <= 0x3029 or 0x3031 <= c <= 0x3035 or 0x3038 <= c <= 0x303C)


cdef inline bint _unspaced_mark(Py_UCS4 c) noexcept:
    """Whether ``c`` is punctuation of those scripts, or of the full-width forms (``tree.UNSPACED_MARKS``)."""
    return (0x3001 <= c <= 0x3004 or 0x3008 <= c <= 0x3020 or 0x302A <= c <= 0x3030 or c == 0x3036 or c == 0x3037
            or 0x303D <= c <= 0x303F or c == 0x30FB or 0xFF01 <= c <= 0xFF0F or 0xFF1A <= c <= 0xFF20
            or 0xFF3B <= c <= 0xFF40 or 0xFF5B <= c <= 0xFF65)


def word_count(str text):
    """``len(text.split())``, without making the words, where every word is spaced; a character of a script
    written without spaces is a word of its own, and that script's punctuation is none."""
    cdef Py_ssize_t count = 0
    cdef bint in_word = False
    cdef Py_UCS4 c
    for c in text:
        if Py_UNICODE_ISSPACE(c) or _unspaced_mark(c):
            in_word = False
        elif _unspaced(c):
            in_word = False
            count += 1
        elif not in_word:
            in_word = True
            count += 1
    return count


def has_attribute(_Element root, str name):
    """Whether ``root`` or an element under it has the attribute ``name``."""
    cdef bytes encoded = name.encode("utf-8")
    cdef const char* wanted = encoded
    cdef Node* top = root._c_node
    cdef Node* node = top
    cdef const char* value
    while node is not NULL:
        if node.type == tree.XML_ELEMENT_NODE:
            if _attribute(node, wanted, &value) != ABSENT:
                return True
        node = _following(node, top)
    return False


def has_descendant(_Element element, names):
    """Whether an element of one of ``names`` lies under ``element``."""
    cdef Node* top = element._c_node
    cdef Node* node = top.children
    while node is not NULL:
        if node.type == tree.XML_ELEMENT_NODE:
            if _string(node.name) in names:
                return True
        node = _following(node, top)
    return False


def raw_text(_Element element):
    """All the text under an element, as ``"".join(element.itertext())`` reads it, but for the texts either
    side of a line break or a block, kept apart (:func:`_separate`)."""
    return _read(element._c_node, False)


def unlinked_text(_Element element):
    """The text under an element that is in no link (``descendant::text()[not(ancestor::a)]``, joined)."""
    cdef Node* node = element._c_node
    while node is not NULL and node.type == tree.XML_ELEMENT_NODE:
        if _named(node, "a"):
            return ""
        node = node.parent
    return _read(element._c_node, False, True)


def children(_Element element):
    """``element``'s children as the walk reads them: (child, tag, tail) for each, ``tag`` its name in lower
    case (None for a comment or processing instruction), ``tail`` the text after it ("" for none)."""
    cdef _Document doc = element._doc
    cdef Node* node = element._c_node.children
    cdef list found = []
    cdef const unsigned char* name
    cdef Py_ssize_t i
    while node is not NULL:
        if node.type == tree.XML_ELEMENT_NODE:
            tag = _tag(node.name)
        elif node.type in (tree.XML_COMMENT_NODE, tree.XML_PI_NODE, tree.XML_ENTITY_REF_NODE):
            tag = None
        else:
            node = node.next
            continue
        found.append((cetree.elementFactory(doc, node), tag, _tail(node)))
        node = node.next
    return found


cdef str _tag(const unsigned char* name):
    cdef Py_ssize_t i = 0
    tag = _string(name)
    while name[i] != 0:
        if name[i] >= 0x80 or 65 <= name[i] <= 90:
            return tag.lower()
        i += 1
    return tag


cdef str _tail(Node* node):
    """The text right after ``node`` (``element.tail``), or "" for none."""
    cdef Node* text = node.next
    cdef Node* after
    if text is NULL or not (text.type == tree.XML_TEXT_NODE or text.type == tree.XML_CDATA_SECTION_NODE):
        return ""
    after = text.next
    if after is NULL or not (after.type == tree.XML_TEXT_NODE or after.type == tree.XML_CDATA_SECTION_NODE):
        return _string(text.content)
    pieces = []
    while text is not NULL and (text.type == tree.XML_TEXT_NODE or text.type == tree.XML_CDATA_SECTION_NODE):
        pieces.append(_string(text.content))
        text = text.next
    return "".join(pieces)


cdef inline str _string(const unsigned char* value):
    if value is NULL:
        return ""
    return PyUnicode_DecodeUTF8(<const char*>value, strlen(<const char*>value), "strict")


def elements_by_tag(_Element root, tags):
    """The elements of each of ``tags`` in ``root``'s subtree, itself included, in document order."""
    cdef _Document doc = root._doc
    cdef Node* top = root._c_node
    cdef Node* node = top
    cdef list names = [tag.encode("utf-8") for tag in tags]
    cdef list lists = [[] for _ in tags]
    cdef Py_ssize_t i, count = len(names)
    while node is not NULL:
        if node.type == tree.XML_ELEMENT_NODE:
            for i in range(count):
                if strcmp(<const char*>node.name, <const char*><bytes>names[i]) == 0:
                    (<list>lists[i]).append(cetree.elementFactory(doc, node))
                    break
        node = _following(node, top)
    return dict(zip(tags, lists))


def following(_Element ancestor, _Element anchor, names):
    """The elements of ``names`` under ``ancestor`` (not itself), in document order, that do not come before
    ``anchor``'s line (either line unknown, they do)."""
    cdef _Document doc = ancestor._doc
    cdef Node* top = ancestor._c_node
    cdef Node* node = top.children
    cdef list encoded = [name.encode("utf-8") for name in names]
    cdef list found = []
    cdef long line, from_line = _line(doc, anchor._c_node)
    cdef Py_ssize_t i, count = len(encoded)
    while node is not NULL:
        if node.type == tree.XML_ELEMENT_NODE:
            for i in range(count):
                if strcmp(<const char*>node.name, <const char*><bytes>encoded[i]) == 0:
                    line = _line(doc, node)
                    if line <= 0 or from_line <= 0 or line >= from_line:
                        found.append(cetree.elementFactory(doc, node))
                    break
        node = _following(node, top)
    return found


cdef long _line(_Document doc, Node* node) except? -2:
    """``element.sourceline``, 0 for None. A line past 65,534 is not in the node: lxml finds it."""
    if node.line != 65535:
        return node.line
    line = cetree.elementFactory(doc, node).sourceline
    return 0 if line is None else line


def hrefs(_Element root):
    """The ``href`` of every ``<a>`` in ``root``'s subtree, itself included, in document order."""
    cdef _Document doc = root._doc
    cdef Node* top = root._c_node
    cdef Node* node = top
    cdef const char* value
    cdef list keep = []
    cdef list found = []
    while node is not NULL:
        if node.type == tree.XML_ELEMENT_NODE:
            if _named(node, "a") and _value(doc, node, "href", &value, keep) == FOUND:
                found.append(PyUnicode_DecodeUTF8(value, strlen(value), "strict"))
        node = _following(node, top)
    return found


def attributes(elements, names):
    """For each of ``elements``, the values of its attributes ``names`` (None for one it lacks), as a tuple."""
    cdef list encoded = [name.encode("utf-8") for name in names]
    cdef list found = []
    cdef list keep = []
    cdef list values
    cdef const char* value
    cdef _Element element
    for element in elements:
        values = []
        for name in encoded:
            if _value(element._doc, element._c_node, <const char*><bytes>name, &value, keep) == FOUND:
                values.append(PyUnicode_DecodeUTF8(value, strlen(value), "strict"))
            else:
                values.append(None)
        found.append(tuple(values))
    return found


# -- the markup's bytes --------------------------------------------------------------------------------

# The bytes that may begin what may_hold_stray_characters looks for.
cdef bint _NOTED[256]
for _byte in range(256):
    _NOTED[_byte] = _byte < 0x09 or 0x0b <= _byte <= 0x1f or _byte in (0x7f, 0xc2, 0xe2, 0xef, 38, 92)


cdef inline bint _plain_word(unsigned long long v) noexcept:
    """Whether none of the eight bytes of ``v`` is one :data:`_NOTED` may mark (below 0x20, 0x7f and above,
    ``&``, backslash): then none of them begins a stray character. Bit tricks, one test for all eight."""
    cdef unsigned long long ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL, x
    if v & highs:  # a byte of 0x80 or more
        return False
    if (v - 0x20 * ones) & ~v & highs:  # below 0x20 (exact for bytes below 0x80)
        return False
    if (v + ones) & highs:  # 0x7f
        return False
    x = v ^ (0x26 * ones)  # &
    if (x - ones) & ~x & highs:
        return False
    x = v ^ (0x5c * ones)  # backslash
    return not ((x - ones) & ~x & highs)


cdef bint _stray_at(const unsigned char* s, Py_ssize_t i, Py_ssize_t n) noexcept:
    """Whether a stray character (see :func:`may_hold_stray_characters`) begins at byte ``i`` of ``s``."""
    cdef unsigned char c = s[i]
    if not _NOTED[c]:  # most bytes: one look each
        return False
    if c < 0x09 or 0x0b <= c <= 0x1f or c == 0x7f:
        return True
    if c == 0xc2:  # C1, U+00AD
        return i + 1 < n and (0x80 <= s[i + 1] <= 0x9f or s[i + 1] == 0xad)
    if c == 0xe2:  # U+200B-U+200D, U+2060
        return i + 2 < n and (s[i + 1] == 0x80 and 0x8b <= s[i + 2] <= 0x8d or s[i + 1] == 0x81 and s[i + 2] == 0xa0)
    if c == 0xef:  # U+FEFF
        return i + 2 < n and s[i + 1] == 0xbb and s[i + 2] == 0xbf
    if c == 38:  # &
        return (i + 2 < n and s[i + 1] == 35 and _stray_reference(s + i + 2, n - i - 2)  # &#
                or _stray_name(s + i + 1, n - i - 1))
    if c == 92:  # backslash
        return i + 1 < n and _stray_escape(s + i + 1, n - i - 1)
    return False


def may_hold_stray_characters(bytes markup):
    """Whether ``markup`` (UTF-8) may put a stray character in its record: a control character (C0 but
    tab and newline, DEL, C1) or an invisible one (the soft hyphen, the word joiner, the zero-width
    no-break space; the zero-width space, non-joiner and joiner), written as itself, as a character
    reference (decimal, hex, or by name), or as a JSON escape. Eight bytes none of which may begin one
    are passed at a time."""
    cdef const unsigned char* s = <const unsigned char*>markup
    cdef Py_ssize_t n = len(markup), i = 0, end
    cdef unsigned long long word
    while i < n:
        if i + 8 <= n:
            memcpy(&word, s + i, 8)
            if _plain_word(word):
                i += 8
                continue
        end = min(i + 8, n)
        while i < end:
            if _stray_at(s, i, n):
                return True
            i += 1
    return False


cdef inline int _hex(unsigned char c) noexcept:
    if 48 <= c <= 57:
        return c - 48
    if 97 <= c <= 102:
        return c - 87
    if 65 <= c <= 70:
        return c - 55
    return -1


cdef inline bint _is_stray(long value) noexcept:
    return (value <= 0x1f or 0x7f <= value <= 0x9f or value == 0xad or 0x200b <= value <= 0x200d or value == 0x2060
            or value == 0xfeff)


cdef bint _stray_reference(const unsigned char* s, Py_ssize_t n) noexcept:
    """Whether the character reference after ``&#`` (``s``, ``n`` bytes left) is to a stray character:
    its digits, all of them, read as a number (past the last code point, it stops growing)."""
    cdef Py_ssize_t i = 0
    cdef long value = 0
    if s[0] == 120 or s[0] == 88:  # x, X
        i = 1
        while i < n and _hex(s[i]) >= 0:
            value = value * 16 + _hex(s[i]) if value < 0x110000 else value
            i += 1
        # "&#x" without hex digits is no hex reference, nor a decimal one
        return i > 1 and _is_stray(value)
    while i < n and 48 <= s[i] <= 57:
        value = value * 10 + (s[i] - 48) if value < 0x110000 else value
        i += 1
    return i > 0 and _is_stray(value)


cdef bint _stray_name(const unsigned char* s, Py_ssize_t n) noexcept:
    """Whether the character reference after ``&`` (``s``, ``n`` bytes left) may be one of HTML's names for a
    stray character: ``&shy``, ``&NoBreak;``, ``&ZeroWidthSpace;``, ``&Negative...Space;`` (four names of
    the zero-width space), ``&zwnj;`` or ``&zwj;``."""
    return ((n >= 3 and memcmp(s, b"shy", 3) == 0) or (n >= 8 and memcmp(s, b"NoBreak;", 8) == 0)
            or (n >= 15 and memcmp(s, b"ZeroWidthSpace;", 15) == 0) or (n >= 8 and memcmp(s, b"Negative", 8) == 0)
            or (n >= 5 and memcmp(s, b"zwnj;", 5) == 0) or (n >= 4 and memcmp(s, b"zwj;", 4) == 0))


cdef bint _stray_escape(const unsigned char* s, Py_ssize_t n) noexcept:
    """Whether the JSON escape after a backslash (``s``, ``n`` bytes left) writes a stray character:
    ``\\b``, ``\\f``, ``\\r``, or ``\\u`` and four hex digits that name one."""
    cdef long value = 0
    cdef int i, digit
    if s[0] == 98 or s[0] == 102 or s[0] == 114:  # b f r
        return True
    if n < 5 or s[0] != 117:  # u
        return False
    for i in range(1, 5):
        digit = _hex(s[i])
        if digit < 0:
            return False
        value = value * 16 + digit
    return _is_stray(value)
