from rag_chatbot.answering.sentences import looks_like_heading, split_sentences, split_units


def test_prose_splits_into_sentences() -> None:
    text = "SQLite is small. It is fast! Is it reliable? Yes.\n\nAnother paragraph here."
    assert split_sentences(text) == [
        "SQLite is small.",
        "It is fast!",
        "Is it reliable?",
        "Yes.",
        "Another paragraph here.",
    ]


def test_code_and_tables_stay_whole() -> None:
    code = "CREATE TABLE t(\n  a INTEGER PRIMARY KEY,\n  b TEXT\n);"
    table = "name | type\nid | integer\nbody | text"
    assert split_sentences(f"Example:\n\n{code}\n\n{table}") == ["Example:", code, table]


def test_abbreviations_like_e_g_do_not_break_mid_sentence() -> None:
    assert split_sentences("Use a pragma, e.g. foreign_keys to check.") == [
        "Use a pragma, e.g. foreign_keys to check."
    ]


def test_long_units_are_clipped() -> None:
    long = "word " * 300
    (unit,) = split_sentences(long)
    assert len(unit) < 620 and unit.endswith("…")


def test_heading_like_lines_are_told_from_statements() -> None:
    for heading in ("Brewing green tea", "Lamp maintenance", "Fog signals and bells"):
        assert looks_like_heading(heading)
    for statement in (
        "Green tea is brewed at 80 degrees.",
        'rag-chatbot ask "How do I create an AUTOINCREMENT field?"',
        "CREATE TABLE t(a INTEGER PRIMARY KEY)",
        "- use WAL mode",
        "The keeper lights the lamp at dusk and trims the wick before the watch begins",
    ):
        assert not looks_like_heading(statement), statement


def test_units_know_code_tables_lists_and_headings_from_prose() -> None:
    text = (
        "Brewing green tea\n\n"
        "Green tea is brewed at 80 degrees.\n\n"
        "name | type\nid | integer\n\n"
        "- options <Object>\n  - recursive <boolean> Default: false\n  - mode <integer>\n\n"
        "- a flat list item stays prose\n- and so does this one\n\n"
        "CREATE TABLE t(\n  a INTEGER PRIMARY KEY,\n  b TEXT\n);\n\n"
        "// get the extension\n\n"
        "path.extname(path)"
    )
    kinds = [(unit.kind, unit.text.split("\n")[0]) for unit in split_units(text)]
    assert kinds == [
        ("heading", "Brewing green tea"),
        ("prose", "Green tea is brewed at 80 degrees."),
        ("table", "name | type"),
        ("list", "- options <Object>"),
        ("prose", "- a flat list item stays prose"),
        ("prose", "- and so does this one"),
        ("code", "CREATE TABLE t("),
        ("code", "// get the extension"),
        ("code", "path.extname(path)"),
    ]
