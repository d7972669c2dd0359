"""Raw response bodies: each stored once, compressed with a zstd dictionary trained on the archive, or,
when a page is fetched again, as what changed from its earlier body."""

from __future__ import annotations

import logging
import zlib

import sqlite_utils
import zstandard

from glossary_spider.storage.errors import ArchiveError
from glossary_spider.storage.records import now

logger = logging.getLogger(__name__)

# Bodies are zlib-compressed until this many are stored; then a zstd dictionary is
# trained on them and every body is stored with it (about 7.6% of raw bytes on the
# replica, against 23% for zlib alone).
DICTIONARY_SAMPLES = 100
DICTIONARY_SIZE = 64 * 1024
# With the dictionary, level 3 takes 15 us a replica page for 7.6% of its bytes, level 9 125 us for
# 5.7%: every page of a crawl is compressed on the crawl's own loop, so the cheaper level.
ZSTD_LEVEL = 3
# A page fetched again is stored against its earlier body, rarely and in few bytes: the tighter level.
DELTA_LEVEL = 9
DELTA = "zstd-delta:"


class BodyCodec:
    """Compresses response bodies: zlib at first, then zstd with a dictionary trained on the archive.

    The ``compression`` column says how each body is stored (``zlib``, ``zstd:<dictionary id>``, or
    ``zstd-delta:<sha256>``: compressed against that body, which is stored whole), so every body stays
    readable whatever comes later.
    """

    def __init__(self, db: sqlite_utils.Database):
        self.db = db
        self._dictionaries: dict[int, zstandard.ZstdCompressionDict] = {}
        # One each, kept: a decompressor made for a call digests its 64 KiB dictionary first, which
        # costs four times the decompression of a page.
        self._decompressors: dict[int, zstandard.ZstdDecompressor] = {}
        self._compressor: tuple[int, zstandard.ZstdCompressor] | None = None

    def _dictionary(self, dict_id: int) -> zstandard.ZstdCompressionDict:
        if dict_id not in self._dictionaries:
            row = self.db.execute("SELECT data FROM compression_dictionaries WHERE id = ?", [dict_id]).fetchone()
            if row is None:
                raise ArchiveError(f"a body needs compression dictionary {dict_id}, which the archive lacks")
            self._dictionaries[dict_id] = zstandard.ZstdCompressionDict(row[0])
        return self._dictionaries[dict_id]

    def _latest(self) -> tuple[int, zstandard.ZstdCompressor] | None:
        if self._compressor is None and self.db.table("compression_dictionaries").exists():
            row = self.db.execute("SELECT max(id) FROM compression_dictionaries").fetchone()
            if row and row[0] is not None:
                self._compressor = (row[0], zstandard.ZstdCompressor(level=ZSTD_LEVEL, dict_data=self._dictionary(row[0])))
        return self._compressor

    def compress(self, body: bytes, base: tuple[str, bytes] | None = None) -> tuple[str, bytes]:
        """How to store ``body``: whole, or against ``base`` (sha256, bytes: the page's earlier body)
        where that takes less than half the bytes (a page that changed in a few places)."""
        latest = self._latest()
        if latest is None:
            whole = "zlib", zlib.compress(body, 6)
        else:
            dict_id, compressor = latest
            whole = f"zstd:{dict_id}", compressor.compress(body)
        if base is not None and base[1]:
            raw = zstandard.ZstdCompressionDict(base[1], dict_type=zstandard.DICT_TYPE_RAWCONTENT)
            delta = zstandard.ZstdCompressor(level=DELTA_LEVEL, dict_data=raw).compress(body)
            if len(delta) < len(whole[1]) // 2:
                return f"{DELTA}{base[0]}", delta
        return whole

    def decompress(self, compression: str | None, data: bytes) -> bytes:
        if compression in (None, "", "none"):
            return data
        if compression == "zlib":
            return zlib.decompress(data)
        if compression.startswith("zstd:"):
            dict_id = int(compression[5:])
            decompressor = self._decompressors.get(dict_id)
            if decompressor is None:
                dictionary = self._dictionary(dict_id)
                decompressor = self._decompressors[dict_id] = zstandard.ZstdDecompressor(dict_data=dictionary)
            return decompressor.decompress(data)
        if compression.startswith(DELTA):
            base = self.db.execute("SELECT compression, data FROM bodies WHERE sha256 = ?",
                                   [compression[len(DELTA):]]).fetchone()
            if base is None or (base[0] or "").startswith(DELTA):
                raise ArchiveError(f"a body is stored against {compression[len(DELTA):]}, which the archive "
                                   "does not hold whole")
            raw = zstandard.ZstdCompressionDict(self.decompress(*base), dict_type=zstandard.DICT_TYPE_RAWCONTENT)
            return zstandard.ZstdDecompressor(dict_data=raw).decompress(data)
        raise ArchiveError(f"a body is stored with an unknown compression {compression!r}")

    def base_for(self, url: str) -> tuple[str, bytes] | None:
        """The body a new capture of ``url`` is stored against: that of its latest capture with a body,
        or the one that body is itself stored against (deltas are never chained)."""
        row = self.db.execute(
            "SELECT b.sha256, b.compression, b.data FROM captures c JOIN bodies b ON b.sha256 = c.body_sha256 "
            "WHERE c.url = ? ORDER BY c.id DESC LIMIT 1", [url]).fetchone()
        if row is None:
            return None
        sha, compression, data = row
        if (compression or "").startswith(DELTA):
            sha = compression[len(DELTA):]
            found = self.db.execute("SELECT compression, data FROM bodies WHERE sha256 = ?", [sha]).fetchone()
            if found is None:
                return None
            compression, data = found
        return sha, self.decompress(compression, data)

    def maybe_train(self, db: sqlite_utils.Database) -> None:
        """Once enough bodies are stored, train a dictionary on them and recompress them with it."""
        if self._latest() is not None:
            return
        count = db.execute("SELECT count(*) FROM bodies WHERE compression = 'zlib'").fetchone()[0]
        if count < DICTIONARY_SAMPLES:
            return
        rows = db.execute("SELECT sha256, data FROM bodies WHERE compression = 'zlib'").fetchall()
        samples = [zlib.decompress(data) for _, data in rows]
        try:
            dictionary = zstandard.train_dictionary(DICTIONARY_SIZE, samples)
        except zstandard.ZstdError as exc:  # too little or too uniform data: stay with zlib
            logger.info("No compression dictionary yet: %s", exc)
            return
        dict_id = db.table("compression_dictionaries").insert(
            {"created_at": now(), "samples": len(samples), "data": dictionary.as_bytes()}
        ).last_pk
        self._dictionaries[dict_id] = dictionary
        compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, dict_data=dictionary)
        self._compressor = (dict_id, compressor)
        db.conn.executemany(
            "UPDATE bodies SET compression = ?, data = ? WHERE sha256 = ?",
            ((f"zstd:{dict_id}", compressor.compress(body), sha) for (sha, _), body in zip(rows, samples)),
        )
