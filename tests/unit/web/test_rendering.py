"""Chunk rows back into the reader's sections and blocks."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from rag_chatbot.web.rendering import Block, ListItem, document_view, split_blocks


@dataclass(frozen=True)
class Row:
    section: str
    anchor: str
    text: str


def test_sections_follow_the_chunks_and_carry_their_anchors() -> None:
    view = document_view(
        "Manual",
        [
            Row("Manual", "manual", "Intro."),
            Row("Manual > Lamp", "lamp", "Clean the lens."),
            Row("Manual > Lamp", "lamp", "Trim the wick."),  # the same section, split
            Row("Manual > Lamp > Fuel", "fuel", "Paraffin."),
            Row("Appendix", "appendix", "More."),
        ],
    )
    assert [(s.heading, s.anchor, s.level) for s in view.sections] == [
        ("Manual", "manual", 1),
        ("Lamp", "lamp", 2),
        ("Fuel", "fuel", 3),
        ("Appendix", "appendix", 2),
    ]
    assert view.title_has_anchor
    assert [b.text for b in view.sections[1].blocks] == ["Clean the lens.", "Trim the wick."]
    assert [(e.heading, e.level) for e in view.toc] == [
        ("Manual", 1),
        ("Lamp", 2),
        ("Fuel", 3),
        ("Appendix", 2),
    ]


def test_text_before_any_heading_and_a_title_heading_later() -> None:
    view = document_view("Notes", [Row("", "", "Lead text."), Row("Notes", "notes", "Body.")])
    assert [(s.heading, s.anchor, s.level) for s in view.sections] == [
        ("", "", 2),
        ("Notes", "notes", 2),
    ]
    assert not view.title_has_anchor


def test_blocks_are_told_apart_by_their_line_breaks() -> None:
    text = (
        "A paragraph on one line.\n\n"
        "signal  = two blasts\nperiod  = 60 s\n\n"
        "- first item\n  - nested item\n    more of the nested item\n- second\n\n"
        "Material | Type\nDry leaves | brown"
    )
    assert split_blocks(text) == [
        Block("paragraph", text="A paragraph on one line."),
        Block("code", text="signal  = two blasts\nperiod  = 60 s"),
        Block(
            "list",
            items=(
                ListItem(0, "first item"),
                ListItem(1, "nested item more of the nested item"),
                ListItem(0, "second"),
            ),
        ),
        Block("table", rows=(("Material", "Type"), ("Dry leaves", "brown"))),
    ]


def test_markup_in_text_is_kept_as_text() -> None:
    (block,) = split_blocks("<script>alert(1)</script>")
    assert block == Block("paragraph", text="<script>alert(1)</script>")


sections = st.sampled_from(["", "T", "T > A", "T > A > B", "C"])
anchors = st.sampled_from(["", "t", "a", "b", "c"])


@given(st.lists(st.tuples(sections, anchors, st.text(min_size=1, max_size=30)), max_size=12))
def test_every_anchor_is_on_the_page_exactly_once(
    rows: list[tuple[str, str, str]],
) -> None:
    view = document_view("T", [Row(*r) for r in rows])
    shown = [s.anchor for s in view.sections if s.anchor]
    assert sorted(shown) == sorted({anchor for _, anchor, _ in rows if anchor})
    assert all(1 <= s.level <= 6 for s in view.sections)
