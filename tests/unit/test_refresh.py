"""``python -m deepmf.report --refresh``: a new template and new benchmark files, the run tables kept."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from deepmf.report.__main__ import main
from deepmf.report.refresh import RefreshError, refresh, sections_by_alignment
from deepmf.report.results import write_results
from tests.unit.test_report import make_run, metrics_for

TEMPLATE = (
    "# Results\n{{sources}}\nOld prose.\n## Table 2\n{{table2}}\n## Bench\n{{include:bench/b.md}}\nEnd.\n"
)


def written_document(tmp_path: Path) -> tuple[Path, Path]:
    """A results document written from runs that are then deleted, and its template."""
    runs = tmp_path / "runs"
    make_run(runs / "itempop", {"name": "itempop"}, "nce", "ml100k", 0, metrics_for(0.41))
    template = tmp_path / "template.md"
    template.write_text(TEMPLATE)
    (tmp_path / "docs" / "bench").mkdir(parents=True)
    (tmp_path / "docs" / "bench" / "b.md").write_text("| old bench |\n")
    out = tmp_path / "docs" / "results.md"
    write_results([("table2", runs / "itempop")], out, template)
    shutil.rmtree(runs)
    return out, template


def table2_of(text: str) -> str:
    return text.split("## Table 2")[1].split("## Bench")[0]


def test_refresh_rereads_template_and_includes_and_keeps_run_tables(tmp_path):
    out, template = written_document(tmp_path)
    before = out.read_text()
    assert "| ML100k | HR@10 | 0.4100 |" in table2_of(before)
    template.write_text(TEMPLATE.replace("Old prose.", "New prose."))
    (tmp_path / "docs" / "bench" / "b.md").write_text("| new bench |\n")

    assert main(["--refresh", str(out), "--template", str(template)]) == 0
    after = out.read_text()
    assert "New prose." in after and "Old prose." not in after
    assert "| new bench |" in after and "| old bench |" not in after
    assert table2_of(after) == table2_of(before)
    assert after.count("re-read") == 1
    refresh(out, template)  # a second refresh changes nothing
    assert out.read_text() == after


def test_unmarked_document_is_read_by_aligning_with_its_own_template(tmp_path):
    old = "# R\n{{sources}}\nA.\n{{include:b.md}}\nB.\n{{table3}}\nC.\n"
    document = "# R\nfrom runs\nA.\n| old bench |\nB.\n| LFM | 0.5 |\nC.\n"
    assert sections_by_alignment(document, old) == {"sources": "from runs", "table3": "| LFM | 0.5 |"}
    path, old_template, new_template = tmp_path / "r.md", tmp_path / "old.md", tmp_path / "new.md"
    path.write_text(document)
    old_template.write_text(old)
    new_template.write_text("# R\n{{sources}}\nNew.\n{{table3}}\n")
    assert refresh(path, new_template, old_template) == ["sources", "table3"]
    text = path.read_text()
    assert "New.\n<!-- section:table3 -->\n| LFM | 0.5 |\n<!-- /section:table3 -->" in text


def test_refresh_refuses_a_document_that_does_not_match_or_lacks_a_section(tmp_path):
    with pytest.raises(RefreshError, match="not in the document"):
        sections_by_alignment("# R\nx\nother text\n", "# R\n{{table2}}\nA.\n")
    with pytest.raises(RefreshError, match="not separated"):
        sections_by_alignment("# R\nx\n", "# R\n{{table2}}\n{{table3}}\n")
    out, template = written_document(tmp_path)
    before = out.read_text()
    template.write_text(TEMPLATE + "{{table4}}\n")
    with pytest.raises(RefreshError, match="no section for table4"):
        refresh(out, template)
    assert out.read_text() == before  # nothing half-written
    assert main(["--refresh", str(out), "--template", str(template)]) == 1


def test_take_replaces_one_section_from_another_document_and_says_where_it_came_from(tmp_path):
    out, template = written_document(tmp_path)
    before = out.read_text()
    runs = tmp_path / "rerun"
    make_run(runs / "itempop", {"name": "itempop"}, "nce", "ml100k", 0, metrics_for(0.52))
    newer = tmp_path / "newer.md"
    write_results([("table2", runs / "itempop")], newer, template)

    assert main(["--refresh", str(out), "--template", str(template), "--take", f"table2={newer}"]) == 0
    after = out.read_text()
    assert "| ML100k | HR@10 | 0.5200 |" in table2_of(after) and "0.4100" not in table2_of(after)
    assert table2_of(after) == table2_of(newer.read_text())
    assert (
        after.split("Old prose.")[1].split("## Table 2")[0]
        == before.split("Old prose.")[1].split("## Table 2")[0]
    )
    sources = after.split("## Table 2")[0]
    assert "Section table2 taken" in sources and str(runs / "itempop") in sources
    # Taking it again replaces the note rather than adding a second one.
    refresh(out, template, taken={"table2": newer})
    assert out.read_text().count("Section table2 taken") == 1


def test_take_refuses_a_document_without_the_section_and_changes_nothing(tmp_path):
    out, template = written_document(tmp_path)
    before = out.read_text()
    other = tmp_path / "other.md"
    other.write_text("# nothing marked here\n")
    with pytest.raises(RefreshError, match="holds no marked table2 section"):
        refresh(out, template, taken={"table2": other})
    with pytest.raises(RefreshError, match="sources cannot be taken"):
        refresh(out, template, taken={"sources": other})
    assert out.read_text() == before
    assert main(["--refresh", str(out), "--template", str(template), "--take", "table2"]) == 1
