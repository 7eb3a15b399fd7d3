"""``ipqa history CITATION``: the unit in every version of its law, with dates and word-level diffs."""

from __future__ import annotations

import json

import typer

from ipqa.errors import InputError

_RELATION_WORDS = {"same": "unchanged", "amended": "amended", "moved": "moved", "split": "split off",
                   "merged": "merged", "inserted": "inserted"}


def register(app: typer.Typer) -> None:
    @app.command("history")
    def history(
        citation: str = typer.Argument(..., help="An article, e.g. 专利法实施细则（2010）第六十九条 or "
                                                 "原专利法实施细则第六十九条 (a version qualifier picks the version)."),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """The article in every version of its law: dates, renumbering and a word-level diff."""
        from ipqa.settings import Settings
        from rag.cli import open_current
        from rag.history import LawHistory, history_to_dict, render_diff

        if not citation.strip():
            raise InputError("citation", "must not be empty")
        settings = Settings()
        with open_current(settings) as snapshot:
            found = LawHistory(snapshot.store).history(citation)
        if as_json:
            typer.echo(json.dumps(history_to_dict(found), ensure_ascii=False, indent=2))
            return
        typer.secho(f"{found.citation} — {found.title}", bold=True)
        for version in found.versions:
            until = f" until {version.in_force_until}" if version.in_force_until else ""
            now = "  (in force today)" if version.current else ""
            typer.secho(f"\n{version.version}: effective {version.effective}{until}{now}", bold=True)
            if not version.units:
                typer.echo(f"  {version.status}")
            for unit in version.units:
                relation = _RELATION_WORDS.get(unit.relation.value, unit.relation.value) if unit.relation else ""
                origin = f" from {', '.join(unit.came_from)}" if unit.came_from else ""
                renumbered = ", renumbered" if unit.renumbered else ""
                typer.echo(f"  {unit.citation}  {relation}{renumbered}{origin}".rstrip())
                typer.echo("    " + (render_diff(unit.diff) if unit.diff else unit.text).replace("\n", "\n    "))
