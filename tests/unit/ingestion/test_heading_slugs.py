"""Heading anchors as Docusaurus (github-slugger), MkDocs and JupyterLab write them.

github-slugger is checked two ways: against cases from its own published test fixtures
(``test/fixtures.json`` of github-slugger 2.0, run through one slugger in order, as its test
does), and, where npm can install it, against the package itself run by node on the same
headings and on every character of several Unicode blocks. MkDocs' rule is checked against a
real MkDocs build in ``test_mkdocs_site.py``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from rag_chatbot.ingestion.loaders.slugs import (
    GithubSlugger,
    MkdocsIds,
    github_slug,
    heading_ids,
    mkdocs_slug,
    split_explicit_id,
)

# (input, expected) from github-slugger's test/fixtures.json, in its order: one slugger.
SLUGGER_FIXTURES = [
    ("alpha", "alpha"),
    ("alpha", "alpha-1"),
    ("bravoCharlieDelta", "bravocharliedelta"),
    ("__proto__", "__proto__"),
    ("__proto__", "__proto__-1"),
    ("hasOwnProperty", "hasownproperty"),
    ("echo", "echo"),
    ("echo", "echo-1"),
    ("echo 1", "echo-1-1"),
    ("echo-1", "echo-1-2"),
    ("echo", "echo-2"),
    ("foxtrot-1", "foxtrot-1"),
    ("foxtrot", "foxtrot"),
    ("foxtrot", "foxtrot-2"),
    ("heading with a - dash", "heading-with-a---dash"),
    ("heading with an _ underscore", "heading-with-an-_-underscore"),
    ("heading with a period.txt", "heading-with-a-periodtxt"),
    (
        "exchange.bind_headers(exchange, routing [, bindCallback])",
        "exchangebind_headersexchange-routing--bindcallback",
    ),
    (" ", "-"),
    (" a", "-a"),
    ("a ", "a-"),
    (" a ", "-a-"),
    ("-a-", "-a--1"),
    ("apostrophe\u2019s should be trimmed", "apostrophes-should-be-trimmed"),
    ("golf", "golf"),
    ("golf", "golf-1"),
    ("golf", "golf-2"),
    ("I \u2665 unicode", "i--unicode"),
    ("dash-dash", "dash-dash"),
    ("en\u2013dash", "endash"),
    ("em\u2013dash", "emdash"),
    ("\U0001f604 unicode emoji", "-unicode-emoji"),
    ("\U0001f604-\U0001f604 unicode emoji", "--unicode-emoji"),
    ("\U0001f604_\U0001f604 unicode emoji", "_-unicode-emoji"),
    ("\U0001f604 - an emoji", "---an-emoji"),
    (":smile: - a gemoji", "smile---a-gemoji"),
    ("\u041f\u0440\u0438\u0432\u0435\u0442", "\u043f\u0440\u0438\u0432\u0435\u0442"),
    ("Привет non-latin 你好", "привет-non-latin-你好"),
    (":ok: No underscore", "ok-no-underscore"),
    (":ok_hand: Single", "ok_hand-single"),
    (
        ":ok_hand::hatched_chick: Two in a row with no spaces",
        "ok_handhatched_chick-two-in-a-row-with-no-spaces",
    ),
    (":ok_hand: :hatched_chick: Two in a row", "ok_hand-hatched_chick-two-in-a-row"),
    # From its General_Category fixtures.
    ("a\u2028b", "ab"),
    (
        "a_ \u203f \u2040 \u2054 \ufe33 \ufe34 \ufe4d \ufe4e \ufe4f \uff3fb",
        "a_-\u203f-\u2040-\u2054-\ufe33-\ufe34-\ufe4d-\ufe4e-\ufe4f-\uff3fb",
    ),
    ("a\u00bb \u2019 \u201d \u203a \u2e03 \u2e05 \u2e0a \u2e0d \u2e1d \u2e21b", "a---------b"),
    ("a\u0488 \u0489 \u1abe \u20dd \u20deb", "a\u0488-\u0489-\u1abe-\u20dd-\u20deb"),
    ("a\u16ee \u2160 \u3007b", "a\u16ee-\u2170-\u3007b"),
]
# Headings where our old rule and github-slugger differ, or that are easy to get wrong.
TRICKY_HEADINGS = [
    "Install & configure",
    "What's new in v2.0?",
    "C++ / C# -- notes",
    "Café crème ½ ²",
    "नमस्ते दुनिया",  # combining vowel signs
    "Cafe\u0301 (decomposed)",
    "x\u00b2 + y\u00b2",
    "Ⓐ circled letter",
    "tab\there",
    "  padded  ",
    "",
    "`code` heading",
    "ΟΔΟΣ",
]
# Blocks compared character by character with the npm package (all stable since Unicode 13,
# the version github-slugger's table was generated from).
COMPARED_BLOCKS = [(0x20, 0x7FF), (0x0900, 0x097F), (0x2000, 0x2BFF), (0x3000, 0x30FF)]
COMPARED_BLOCKS += [(0x1F300, 0x1F5FF)]


def test_github_slugger_fixtures_in_order() -> None:
    slugger = GithubSlugger()
    assert [slugger.slug(text) for text, _ in SLUGGER_FIXTURES] == [
        expected for _, expected in SLUGGER_FIXTURES
    ]


def test_fifty_thousand_equal_headings_are_numbered_quickly() -> None:
    slugger = GithubSlugger()
    slugs = [slugger.slug("Repeat") for _ in range(50_000)]
    assert slugs[:3] == ["repeat", "repeat-1", "repeat-2"]
    assert len(set(slugs)) == 50_000


@pytest.fixture(scope="module")
def slugger_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """github-slugger 2 installed by npm into a temporary folder (skips when npm cannot)."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if not npm or not node:
        pytest.skip("needs node and npm to run github-slugger itself")
    folder = tmp_path_factory.mktemp("github-slugger")
    command = [npm, "install", "--no-audit", "--no-fund", "--silent", "github-slugger@2"]
    try:
        done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=180)
    except subprocess.TimeoutExpired:
        pytest.skip("npm could not reach its registry in time")
    if done.returncode != 0:
        pytest.skip(f"npm could not install github-slugger: {done.stderr.strip()[-200:]}")
    return folder


def run_slugger(folder: Path, sequences: list[list[str]]) -> list[list[str]]:
    """Each sequence of headings through one fresh github-slugger, in node."""
    script = folder / "slug.mjs"
    script.write_text(
        "import GithubSlugger from 'github-slugger';\n"
        "import {readFileSync} from 'node:fs';\n"
        "const input = JSON.parse(readFileSync(0, 'utf8'));\n"
        "const out = input.map((seq) => { const s = new GithubSlugger();"
        " return seq.map((t) => s.slug(t)); });\n"
        "process.stdout.write(JSON.stringify(out));\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        ["node", str(script)],
        input=json.dumps(sequences),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result: list[list[str]] = json.loads(done.stdout)
    return result


def ours(sequences: list[list[str]]) -> list[list[str]]:
    result = []
    for sequence in sequences:
        slugger = GithubSlugger()
        result.append([slugger.slug(text) for text in sequence])
    return result


def test_docusaurus_slugs_equal_the_npm_github_slugger(slugger_package: Path) -> None:
    sequences = [[text for text, _ in SLUGGER_FIXTURES], TRICKY_HEADINGS, TRICKY_HEADINGS * 2]
    sequences += [[f"a{chr(code)}B"] for low, high in COMPARED_BLOCKS for code in range(low, high)]
    expected = run_slugger(slugger_package, sequences)
    differing = [
        (sequence, theirs, mine)
        for sequence, theirs, mine in zip(sequences, expected, ours(sequences), strict=True)
        if theirs != mine
    ]
    assert differing == []


def test_docusaurus_ids_take_an_explicit_id_without_counting_it() -> None:
    ids = heading_ids("docusaurus")
    assert ids("Pick a manager {#managers}") == ("Pick a manager", "managers")
    assert ids("Managers") == ("Managers", "managers")  # Docusaurus does not reserve it either
    assert ids("Pick a manager") == ("Pick a manager", "pick-a-manager")
    assert ids("Pick a manager") == ("Pick a manager", "pick-a-manager-1")


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("Title {#my-id}", ("Title", "my-id")),
        ("Title {# spaced id }", ("Title", "spaced id")),
        ("**bold** part {#x}", ("**bold** part", "x")),
        ("Title {#a} more", ("Title {#a} more", "")),
        ("No id here", ("No id here", "")),
        ("{#only}", ("", "only")),
    ],
)
def test_explicit_ids_as_docusaurus_parses_them(heading: str, expected: tuple[str, str]) -> None:
    assert split_explicit_id(heading) == expected


def test_mkdocs_slugs_fold_accents_and_collapse_separators() -> None:
    assert mkdocs_slug("Café crème") == "cafe-creme"
    assert mkdocs_slug("Install & configure") == "install-configure"
    assert mkdocs_slug("C++ / C# -- notes") == "c-c-notes"
    assert mkdocs_slug("  Über  Alles ") == "uber-alles"


def test_mkdocs_repeats_and_empty_slugs_get_underscore_numbers() -> None:
    ids = MkdocsIds()
    titles = ["Step", "Step_1", "Step", "Step", "\U0001f389", "\U0001f389", "Step_1"]
    assert [ids(title)[1] for title in titles] == [
        "step",
        "step_1",
        "step_2",
        "step_3",
        "_1",
        "_2",
        "step_4",
    ]


def test_mkdocs_numbering_matches_python_markdown() -> None:
    toc = pytest.importorskip("markdown.extensions.toc", reason="Python-Markdown (mkdocs)")
    titles = ["A", "A_3", "A", "A", "A_3", "A", "", "", "B_1", "B", "B", "A_2"] * 3
    taken: set[str] = set()
    expected = [toc.unique(toc.slugify(title, "-"), taken) for title in titles]
    ids = MkdocsIds()
    assert [ids(title)[1] for title in titles] == expected


def test_jupyter_ids_keep_case_and_punctuation() -> None:
    ids = heading_ids("jupyter")
    assert ids("What's the *best* tide?") == ("What's the *best* tide?", "What's-the-*best*-tide?")
    assert ids("Loading data") == ids("Loading data") == ("Loading data", "Loading-data")


def test_github_style_is_the_default_rule_unchanged() -> None:
    ids = heading_ids("github")
    assert [ids(t)[1] for t in ["Café crème", "A & B", "A & B", "\U0001f389"]] == [
        "café-crème",
        "a--b",
        "a--b-1",
        "section",
    ]
    # Where the default and github-slugger part: "other numbers" (superscripts, fractions).
    assert ids("x\u00b2")[1] == "x\u00b2"
    assert github_slug("x\u00b2") == "x"
