"""The grounding evidence and the calibrated confidence built on it."""

from __future__ import annotations

from dataclasses import replace

from rag_chatbot.answering.grounding import Evidence, EvidenceReader, GroundingModel, RareWords
from rag_chatbot.domain import Chunk, ScoredChunk
from rag_chatbot.retrieval.lexical import LexicalEncoder


def hit(text: str) -> ScoredChunk:
    chunk = Chunk(
        id=str(abs(hash(text))),
        document_id="d",
        source="d.html",
        title="d",
        section_path=(),
        anchor="",
        position=0,
        text=text,
    )
    return ScoredChunk(chunk, 1.0)


def test_names_identifiers_and_terms_are_rare_common_words_are_not() -> None:
    rare = RareWords()
    assert rare.of("How do I create an AUTOINCREMENT field?") == ("AUTOINCREMENT",)
    assert rare.of("What should I put in user.name?") == ("user.name",)
    assert rare.of("How do I set shared_buffers in postgresql.conf?") == (
        "shared_buffers",
        "postgresql.conf",
    )
    assert rare.of("How often should the lamp be cleaned?") == ()
    # Inflected common words are common.
    assert rare.of("Which branches were merged?") == ()


def test_coverage_is_the_share_of_rare_words_the_passages_hold() -> None:
    reader = EvidenceReader(LexicalEncoder())
    passages = [
        hit("The AUTOINCREMENT keyword prevents the reuse of ROWIDs."),
        hit("Set user.name in your configuration."),
    ]
    dense = [0.7, 0.5, 0.45, 0.4, 0.35, 0.3]
    held = reader.read("How do I create an AUTOINCREMENT field?", passages, dense)
    assert held.coverage == 1.0 and held.rare_words == ("AUTOINCREMENT",)
    half = reader.read("Does webpack use AUTOINCREMENT?", passages, dense)
    assert half.coverage == 0.5
    # An identifier is held only whole: "user" and "email" apart are not user.email.
    assert reader.read("What is user.email?", passages, dense).coverage == 0.0
    assert reader.read("What is user.name?", passages, dense).coverage == 1.0
    # No rare word: nothing to contradict the passages.
    assert reader.read("How is it cleaned?", passages, dense).coverage == 1.0
    # The margin is the best cosine over the fifth.
    assert abs(held.margin - (0.7 - 0.35)) < 1e-9 and held.dense == 0.7


def test_no_passages_is_no_evidence() -> None:
    evidence = EvidenceReader(LexicalEncoder()).read("anything at all?", [], [])
    assert evidence == Evidence(0.0, 0.0, 0.0)
    assert not GroundingModel().supports(evidence)


def test_confidence_grows_with_each_measurement_and_the_threshold_decides() -> None:
    model = GroundingModel()
    base = Evidence(dense=0.5, coverage=0.5, margin=0.1)
    for better in (
        replace(base, dense=0.6),
        replace(base, coverage=1.0),
        replace(base, margin=0.2),
    ):
        assert model.confidence(better) > model.confidence(base)
    strong = Evidence(dense=0.8, coverage=1.0, margin=0.3)
    off_topic = Evidence(dense=0.2, coverage=0.0, margin=0.02)
    assert model.supports(strong) and model.confidence(strong) > 0.9
    assert not model.supports(off_topic) and model.confidence(off_topic) < 0.1
    assert 0.0 <= model.confidence(Evidence(-5, 0, 0)) <= model.confidence(Evidence(5, 1, 1)) <= 1
