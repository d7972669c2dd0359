"""Extraction on real pages no one here wrote (benchmarks/corpus/): scored against trafilatura's
defaults on the same pages, in the same run; no page crashes or comes out empty."""

import sys

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import corpus


@pytest.fixture(scope="module")
def pages():
    return corpus.pages()


@pytest.fixture(scope="module")
def ours(pages):
    return corpus.score(corpus.ours, pages)


def test_the_shingle_f1_counts_shared_four_token_runs():
    assert corpus.f1("a b c d e", "a b c d e") == 1.0
    assert corpus.f1("a b c d", "w x y z") == 0.0
    assert corpus.f1("a b c d e f", "a b c d") == pytest.approx(2 * (1 / 3) * 1 / (1 / 3 + 1))
    assert corpus.f1("", "") == 1.0 and corpus.f1("", "a b c d") == 0.0
    assert len(corpus.shingles("价格上涨")) == 1  # a CJK character is a token


def test_every_page_has_a_body_and_is_read_without_crashing(pages, ours):
    assert len(pages) == 22
    assert ours.empty == []
    assert all(f1 > 0.5 for f1 in ours.f1.values()), ours.f1


def test_our_mean_f1_is_at_least_trafilaturas(pages, ours):
    theirs = corpus.score(corpus.trafilatura_text, pages)
    assert ours.mean >= theirs.mean, (ours.mean, theirs.mean)
    assert ours.mean >= 0.93
