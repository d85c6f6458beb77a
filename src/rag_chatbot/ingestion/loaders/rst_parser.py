"""A docutils reStructuredText parser that reads Sphinx sources without Sphinx.

Sphinx adds roles (``:ref:``, ``:func:``, ``:doc:``), directives (``.. versionadded::``,
``.. seealso::``, ``.. toctree::``) and options (``:emphasize-lines:``) that docutils alone
does not know: it would put an error message in their place and lose their text. This parser
keeps the text instead: an unknown role gives its title (``:ref:`Intro <intro>``` reads
"Intro", ``:func:`~pkg.run``` reads "run()") and remembers a bare ``:ref:`` label so the
loader can show the section's title; an unknown directive gives its argument and content
(``.. toctree::``, ``.. autoclass::`` and other pure build instructions give nothing); an
unknown option is ignored. Nothing is registered with docutils, so other users of docutils in
the process see it unchanged.
"""

from __future__ import annotations

import functools
import re
import types
from collections.abc import Callable, Sequence
from typing import Any

from docutils import nodes, utils
from docutils.parsers.rst import Directive, Parser, directives, roles, states

# Directives that only instruct the build (or pull in files or code this loader cannot read).
_HIDDEN = frozenset(
    {"toctree", "index", "highlight", "currentmodule", "module", "tabularcolumns"}
    | {"literalinclude", "autosummary", "testsetup", "testcleanup", "sectionauthor"}
    | {"moduleauthor", "codeauthor", "program", "default-domain", "spelling:word-list"}
)
_CODE = frozenset({"doctest", "testcode", "testoutput", "ipython", "jupyter-execute", "prompt"})
_CONTENT_ONLY = frozenset({"only", "ifconfig", "container", "glossary", "hlist", "centered"})
_LABELS = {
    "versionadded": "New in version",
    "versionchanged": "Changed in version",
    "deprecated": "Deprecated since version",
    "versionremoved": "Removed in version",
    "seealso": "See also",
    "todo": "Todo",
}
_CALLABLE_ROLES = frozenset({"func", "meth"})
_TITLED = re.compile(r"^(.+?)\s*<([^<>]+)>$", re.DOTALL)
# A bare :ref: remembers its label here; the loader swaps in the section's title.
REF_LABEL = "ref_label"


class _AnyOption(dict[str, Callable[[str | None], Any]]):
    """A directive's option spec that also takes options it does not know (and ignores them)."""

    def __missing__(self, key: str) -> Callable[[str | None], Any]:
        unchanged: Callable[[str | None], Any] = directives.unchanged
        return unchanged

    def __bool__(self) -> bool:
        return True


@functools.cache
def _lenient(directive: type[Directive]) -> type[Directive]:
    """``directive`` with an option spec that accepts Sphinx's extra options."""
    spec = _AnyOption(directive.option_spec or {})
    return type(directive.__name__, (directive,), {"option_spec": spec})


class _SphinxDirective(Directive):  # type: ignore[misc]  # docutils has no type hints
    """Any directive docutils does not know: its argument as a line, its content as rST."""

    optional_arguments = 1
    final_argument_whitespace = True
    has_content = True
    option_spec = _AnyOption()

    def run(self) -> list[nodes.Node]:
        name = self.name.lower().rsplit(":", 1)[-1]  # "py:function" reads as "function"
        if name in _HIDDEN or name.startswith("auto"):
            return []
        if name in _CODE:
            code = "\n".join(self.content)
            return [nodes.literal_block(code, code)]
        result: list[nodes.Node] = []
        argument = " ".join(" ".join(self.arguments).split())
        if name.startswith("version") or name == "deprecated":
            version, _, note = argument.partition(" ")
            argument = f"{version}: {note}" if note else version
        lead = " ".join(part for part in (_LABELS.get(name, ""), argument) if part)
        if lead and name not in _CONTENT_ONLY:
            inline, _ = self.state.inline_text(lead, self.lineno)  # roles, ``literals``
            result.append(nodes.paragraph(lead, "", *inline))
        if self.content:
            box = nodes.container()
            self.state.nested_parse(self.content, self.content_offset, box)
            result.append(box)
        return result


def _sphinx_role(
    name: str,
    rawtext: str,
    text: str,
    lineno: int,
    inliner: object,
    options: dict[str, Any] | None = None,
    content: Sequence[str] = (),
) -> tuple[list[nodes.Node], list[nodes.system_message]]:
    """Any role docutils does not know, shown as Sphinx shows it."""
    shown = utils.unescape(text)
    role = name.lower().rsplit(":", 1)[-1]
    titled = _TITLED.match(shown)
    if titled:
        return [nodes.inline(rawtext, titled.group(1))], []
    shown = shown.lstrip("!")
    if shown.startswith("~"):
        shown = re.split(r"[.:]", shown[1:])[-1]
    if role in _CALLABLE_ROLES and not shown.endswith(")"):
        shown += "()"
    node = nodes.inline(rawtext, shown)
    if role == "ref":
        node[REF_LABEL] = shown
    return [node], []


def _interpreted(
    inliner: states.Inliner, rawsource: str, text: str, role: str, lineno: int
) -> tuple[list[nodes.Node], list[nodes.system_message]]:
    """``Inliner.interpreted``, falling back to ``_sphinx_role`` instead of an error."""
    role_fn, _ = roles.role(role, inliner.language, lineno, inliner.reporter)
    result: list[nodes.Node]
    result, messages = (role_fn or _sphinx_role)(role, rawsource, text, lineno, inliner)
    return result, messages


def _inliner() -> states.Inliner:
    # Not a subclass: Inliner builds its patterns from its own class's attributes only.
    inliner = states.Inliner()
    inliner.interpreted = types.MethodType(_interpreted, inliner)
    return inliner


class _AnyDirective:
    """Mixed into the states that start directives: unknown ones run ``_SphinxDirective``."""

    memo: Any
    document: nodes.document

    def directive(self, match: re.Match[str], **option_presets: Any) -> Any:
        type_name = match.group(1)
        known, _ = directives.directive(type_name, self.memo.language, self.document)
        found = _lenient(known) if known is not None else _SphinxDirective
        run: Any = getattr(self, "run_directive")  # noqa: B009 - defined by the state class
        return run(found, match, type_name, option_presets)


# "..  name::" is dispatched through this table of functions, so it must name ours.
_AnyDirective.explicit = states.Struct(  # type: ignore[attr-defined]
    **{
        **vars(states.Body.explicit),
        "constructs": [
            (_AnyDirective.directive if method is states.Body.directive else method, pattern)
            for method, pattern in states.Body.explicit.constructs
        ],
    }
)


def _tolerant_state(state: type[states.RSTState]) -> type[states.RSTState]:
    """``state`` whose nested parses (sections, list items, directive content) use these
    states too, and which, if it can start directives, runs ours for unknown ones."""

    def __init__(self: states.RSTState, state_machine: Any, debug: bool = False) -> None:
        state.__init__(self, state_machine, debug)
        self.nested_sm_kwargs = {"state_classes": _STATES, "initial_state": "Body"}

    bases = (_AnyDirective, state) if issubclass(state, states.Body) else (state,)
    # The state machine finds states by class name, so each replacement keeps its name.
    return type(state.__name__, bases, {"__init__": __init__})


_STATES: tuple[type[states.RSTState], ...] = tuple(
    _tolerant_state(state) for state in states.state_classes
)


class SphinxTolerantParser(Parser):  # type: ignore[misc]  # docutils has no type hints
    """docutils' rST parser with the lenient roles, directives and options described above."""

    def __init__(self) -> None:
        super().__init__(inliner=_inliner())
        self.state_classes = _STATES
