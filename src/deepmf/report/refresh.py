"""Re-render docs/results.md from its template while keeping the run tables it already holds.

The tables of a results document come from run folders (about ten hours of sweeps); the measured benchmark
files it includes (``{{include:benchmarks/...}}``) and the template's prose change far more often.
``refresh`` fills the current template again: every ``{{include:...}}`` is read anew and every run
section (``{{table2}}``, ...) is the one the existing document holds, found between the markers that
``write_results`` puts around it. A document written before those markers existed is read by aligning it
with the template it was generated from (``previous_template``): the literal text between placeholders must
appear in the document in order, and what lies between is a placeholder's section.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from deepmf.errors import DeepMFError
from deepmf.io import write_atomic

PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
INCLUDE = re.compile(r"\{\{\s*include:([\w./-]+)\s*\}\}")
TOKEN = re.compile(f"{PLACEHOLDER.pattern}|{INCLUDE.pattern}")
REFRESHED = re.compile(r" Template and included benchmark files re-read .*?\(run tables kept\)\.")
MARKED = re.compile(r"<!-- section:(\w+) -->\n(.*?)<!-- /section:\1 -->\n", re.DOTALL)


class RefreshError(DeepMFError):
    """The existing document cannot be matched with the template it is said to come from."""


def marked(name: str, text: str) -> str:
    """A run section between the markers that ``sections_by_marker`` finds again."""
    return f"<!-- section:{name} -->\n{text.rstrip(chr(10))}\n<!-- /section:{name} -->\n"


def sections_by_marker(document: str) -> dict[str, str]:
    """Each marked section of a document written by ``write_results``, by placeholder name."""
    found: dict[str, str] = {}
    for match in MARKED.finditer(document):
        found.setdefault(match.group(1), "")
        found[match.group(1)] += match.group(2)
    return found


def sections_by_alignment(document: str, template: str) -> dict[str, str]:
    """The placeholders' sections of an unmarked document, by the template it was generated from.

    Includes are skipped over (their text then was a file's content then); two tokens with nothing but
    white space between them cannot be told apart, and are refused.
    """
    pieces = TOKEN.split(template)
    # re.split with 2 groups: literal, placeholder-name, include-path, literal, ...
    literals = pieces[0::3]
    tokens = [name or f"include:{inc}" for name, inc in zip(pieces[1::3], pieces[2::3])]
    position = 0
    if not document.startswith(literals[0]):
        raise RefreshError("the document does not start with the template's first lines")
    position = len(literals[0])
    found: dict[str, str] = {}
    for index, (token, literal) in enumerate(zip(tokens, literals[1:])):
        if not literal.strip() and index + 1 < len(tokens):
            raise RefreshError(f"{{{{{token}}}}} and the next placeholder are not separated by any text")
        end = document.find(literal, position) if literal else len(document)
        if end < 0:
            raise RefreshError(
                f"the template's text after {{{{{token}}}}} is not in the document: "
                f"{literal.strip()[:80]!r} (give the template the document was generated from)"
            )
        if not token.startswith("include:"):
            found[token] = found.get(token, "") + document[position:end]
        position = end + len(literal)
    return found


def taken_note(name: str) -> re.Pattern[str]:
    """The sentence of the sources section that says where section ``name`` was taken from."""
    return re.compile(rf" Section {name} taken .*?\(end of {name}\)\.", re.DOTALL)


def take_sections(sections: dict[str, str], taken: dict[str, Path]) -> None:
    """Replace each section ``name`` of ``taken`` by the one the document ``taken[name]`` holds (written by
    ``python -m deepmf.reproduce out=...`` or ``--results``: a sweep rerun for one table), and say so, with
    that document's own sources, in the sources section."""
    for name, document in taken.items():
        if name == "sources":
            raise RefreshError("sources cannot be taken: it says where every section came from")
        other = sections_by_marker(document.read_text(encoding="utf-8"))
        if name not in other:
            raise RefreshError(f"{document} holds no marked {name} section to take")
        sections[name] = other[name]
        origin = REFRESHED.sub("", other.get("sources", "")).strip() or "(no sources section)"
        sections["sources"] = (
            taken_note(name).sub("", sections.get("sources", "")).rstrip("\n")
            + f" Section {name} taken {dt.date.today().isoformat()} from `{document}`, whose runs: "
            f"{origin} (end of {name}).\n"
        )


def refresh(
    path: Path, template: Path, previous_template: Path | None = None, taken: dict[str, Path] | None = None
) -> list[str]:
    """Rewrite ``path`` from ``template``, keeping its run sections (or taking those named in ``taken``
    from other documents); return the names of the sections it holds."""
    from deepmf.report.results import included

    document = path.read_text(encoding="utf-8")
    sections = sections_by_marker(document)
    if not sections:
        source = (previous_template or template).read_text(encoding="utf-8")
        sections = sections_by_alignment(document, source)
    take_sections(sections, taken or {})
    missing = sorted(set(PLACEHOLDER.findall(template.read_text(encoding="utf-8"))) - set(sections))
    if missing:
        raise RefreshError(f"{path} holds no section for {', '.join(missing)}: regenerate it from the runs")
    sections["sources"] = (
        REFRESHED.sub("", sections["sources"]).rstrip("\n")
        + f" Template and included benchmark files re-read {dt.date.today().isoformat()} by "
        f"`python -m deepmf.report --refresh {path}` (run tables kept).\n"
    )
    text = template.read_text(encoding="utf-8")
    text = INCLUDE.sub(lambda m: included(path.parent / m.group(1)), text)
    text = PLACEHOLDER.sub(lambda m: marked(m.group(1), sections[m.group(1)]), text)
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return sorted(sections)
