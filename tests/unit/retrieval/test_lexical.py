"""``LexicalEncoder``: BM25 weights from Qdrant's tokenizer, with identifiers kept findable."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rag_chatbot.domain import SparseVector
from rag_chatbot.errors import ConfigError
from rag_chatbot.retrieval import lexical
from rag_chatbot.retrieval.lexical import LexicalEncoder


@pytest.fixture(scope="module")
def encoder() -> LexicalEncoder:
    return LexicalEncoder()


def terms(vector: SparseVector) -> set[int]:
    return set(vector.indices)


def overlap(encoder: LexicalEncoder, query: str, document: str) -> float:
    """The un-IDF'd score of ``document`` for ``query``: the dot product of their vectors."""
    weights = dict(zip(*_pairs(encoder.encode_document(document)), strict=True))
    return sum(weights.get(i, 0.0) for i in encoder.encode_query(query).indices)


def _pairs(vector: SparseVector) -> tuple[tuple[int, ...], tuple[float, ...]]:
    return vector.indices, vector.values


@pytest.mark.parametrize("text", ["", "   \n", "the of and", "!!! ... --"])
def test_text_without_terms_gives_an_empty_vector(encoder: LexicalEncoder, text: str) -> None:
    empty = SparseVector(indices=(), values=())

    assert encoder.encode_document(text) == empty
    assert encoder.encode_query(text) == empty


def test_query_terms_weigh_one_each_and_are_unique(encoder: LexicalEncoder) -> None:
    vector = encoder.encode_query("Vacuum the database, vacuum the file")

    assert vector.values == (1.0,) * len(vector.indices)
    assert list(vector.indices) == sorted(set(vector.indices))
    assert len(vector.indices) == 3  # vacuum, database, file; "the" is a stopword


def test_document_weights_grow_with_term_frequency(encoder: LexicalEncoder) -> None:
    once = encoder.encode_document("vacuum reclaims space")
    twice = encoder.encode_document("vacuum reclaims space vacuum")
    vacuum = encoder.encode_query("vacuum").indices[0]

    weight_once = once.values[once.indices.index(vacuum)]
    weight_twice = twice.values[twice.indices.index(vacuum)]
    assert 0 < weight_once < weight_twice < 2.2  # saturates below k + 1


def test_case_and_inflection_do_not_matter(encoder: LexicalEncoder) -> None:
    assert terms(encoder.encode_query("Running Databases")) == terms(
        encoder.encode_query("run database")
    )


def test_avg_len_normalises_document_length() -> None:
    text = "vacuum reclaims free space in the file"
    short_corpus = LexicalEncoder(avg_len=5).encode_document(text)
    long_corpus = LexicalEncoder(avg_len=500).encode_document(text)

    assert short_corpus.indices == long_corpus.indices
    assert all(s < w for s, w in zip(short_corpus.values, long_corpus.values, strict=True))


def test_encoding_is_deterministic_across_instances() -> None:
    text = "git-rebase --onto rewrites SQLITE_SCHEMA history"

    assert LexicalEncoder().encode_document(text) == LexicalEncoder().encode_document(text)


@pytest.mark.parametrize(
    ("identifier", "parts"),
    [
        ("SQLITE_SCHEMA", "sqlite schema"),
        ("user.name", "user name"),
        ("git-rebase", "git rebase"),
        ("sqlite3_last_insert_rowid()", "sqlite3 last insert rowid"),
        ("std::vector", "std vector"),
        ("getUserName", "get user name"),
    ],
)
def test_an_identifier_outranks_its_parts_scattered(
    encoder: LexicalEncoder, identifier: str, parts: str
) -> None:
    exact = f"To fix it, see {identifier} in the manual."
    scattered = f"The {parts.replace(' ', ' words and ')} appear apart here."

    assert terms(encoder.encode_query(identifier)) <= terms(encoder.encode_document(exact))
    assert overlap(encoder, identifier, exact) > overlap(encoder, identifier, scattered) > 0


def test_an_identifier_query_still_finds_its_parts(encoder: LexicalEncoder) -> None:
    # Prose that names the parts ("the sqlite schema table") stays findable by the identifier.
    assert overlap(encoder, "SQLITE_SCHEMA", "the sqlite schema table") > 0


def test_dashed_options_match_the_bare_word(encoder: LexicalEncoder) -> None:
    assert terms(encoder.encode_query("--onto")) == terms(encoder.encode_query("onto"))


def test_version_numbers_get_no_joined_term(encoder: LexicalEncoder) -> None:
    assert terms(encoder.encode_query("TLS 1.3")) == terms(encoder.encode_query("TLS 1 3"))


def test_query_terms_are_the_query_vectors_terms(encoder: LexicalEncoder) -> None:
    for text in ["", "the of", "Use git-rebase --onto to move SQLITE_SCHEMA rows", "TLS 1.3"]:
        assert encoder.query_terms(text) == terms(encoder.encode_query(text))


# Words, the separators compound identifiers use, and what else sits between words.
_PIECES = ["ab", "Z", "1", "_", "é", ".", "-", "/", "::", ":", " ", "\n", ",", "("]
_IDENTIFIER_TEXT = st.lists(st.sampled_from(_PIECES), max_size=16).map("".join)


@given(_IDENTIFIER_TEXT)
def test_compound_identifiers_are_found_as_the_plain_pattern_finds_them(text: str) -> None:
    # The shipped pattern is the plain one made cheap (word starts only, possessive runs).
    plain = re.compile(r"\w+(?:(?:[./-]|::)\w+)+")

    assert lexical._COMPOUND.findall(text) == plain.findall(text)


@pytest.mark.parametrize("kwargs", [{"avg_len": 0}, {"k": -1.0}, {"b": 1.5}])
def test_invalid_parameters_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        LexicalEncoder(**kwargs)
