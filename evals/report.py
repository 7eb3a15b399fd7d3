"""Writing an evaluation run: ``result.json``, ``report.md`` and ``chart.png`` in one directory.

Every run is stamped with what produced it (git commit and whether the tree had local changes, the
index version, the settings with secrets removed, the dataset and its SHA-256), so two runs can be
compared knowing what changed between them (``ipqa eval compare``).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

from ipqa.errors import InputError

RESULT_FILE = "result.json"
REPORT_FILE = "report.md"
CHART_FILE = "chart.png"

# Settings that must never be written into a report someone may share.
_SECRET_SETTINGS = frozenset({"openai_api_key", "api_keys", "write_api_keys"})


def default_out_dir(command: str, *, root: Path = Path("runs"), now: datetime | None = None) -> Path:
    """``runs/<command>-<UTC timestamp>/``."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    return root / f"{command}-{stamp}"


def git_commit(repo: Path) -> dict[str, Any]:
    """The commit checked out in ``repo`` and whether the working tree differs from it."""
    def run(*args: str) -> str | None:
        try:
            return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=20,
                                  check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    commit = run("rev-parse", "HEAD")
    status = run("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def public_settings(settings: Any) -> dict[str, Any]:
    """The settings as JSON values, secrets left out."""
    dumped = settings.model_dump(mode="json") if hasattr(settings, "model_dump") else dict(settings)
    return {k: v for k, v in dumped.items() if k not in _SECRET_SETTINGS}


def stamp(*, command: str, dataset: Path, settings: Any, index_version: str | None,
          repo: Path | None = None, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What produced a run (recorded under ``"run"`` in result.json)."""
    from ipqa.settings import REPO_ROOT

    return {"command": command, "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "git": git_commit(repo or REPO_ROOT), "index_version": index_version,
            "dataset": {"path": str(dataset), "sha256": file_sha256(dataset)},
            "settings": public_settings(settings), **dict(extra or {})}


@dataclass(frozen=True)
class Bar:
    """One bar of the run's chart."""

    label: str
    value: float


def write_chart(path: Path, title: str, bars: Sequence[Bar], *, ylabel: str = "score") -> Path:
    """A bar chart of the headline figures (values in [0, 1]), drawn with the headless Agg backend."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # A Figure with its own Agg canvas: no pyplot state machine, no global backend switch.
    figure = Figure(figsize=(max(4.0, 0.9 * len(bars) + 1.5), 3.6), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    values = [bar.value for bar in bars]
    drawn = axes.bar([bar.label for bar in bars], values, color="#3a6ea5")
    for rect, value in zip(drawn, values):
        axes.annotate(f"{value:.3f}", (rect.get_x() + rect.get_width() / 2, rect.get_height()),
                      ha="center", va="bottom", fontsize=8)
    axes.set_ylim(0, max(1.0, max(values, default=0) * 1.1))
    axes.set_ylabel(ylabel)
    axes.set_title(title, fontsize=10)
    axes.tick_params(axis="x", labelsize=8)
    figure.tight_layout()
    figure.savefig(path)
    return path


def write_run(out_dir: Path, result: Mapping[str, Any], markdown: str, *, chart_title: str,
              bars: Sequence[Bar]) -> Path:
    """Write result.json, chart.png and report.md (which embeds the chart) into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / RESULT_FILE).write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    write_chart(out_dir / CHART_FILE, chart_title, bars)
    (out_dir / REPORT_FILE).write_text(markdown.rstrip() + f"\n\n![{chart_title}]({CHART_FILE})\n",
                                       encoding="utf-8")
    return out_dir


def load_run(path: Path) -> dict[str, Any]:
    """A run's result.json (``path`` is the run directory or the file itself)."""
    path = Path(path)
    file = path / RESULT_FILE if path.is_dir() else path
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(str(path), f"not an evaluation run: {file} is missing") from None
    except (OSError, ValueError) as exc:
        raise InputError(str(file), f"cannot read the run's result: {exc}") from None
    if not isinstance(data, dict) or "summary" not in data or "run" not in data:
        raise InputError(str(file), "not an ipqa evaluation result (no 'run' and 'summary')")
    return data


def stamp_markdown(run: Mapping[str, Any]) -> str:
    """The "what produced this" block of a report."""
    git = run.get("git", {})
    dirty = " (with uncommitted changes)" if git.get("dirty") else ""
    dataset = run.get("dataset", {})
    lines = [
        "## Run",
        "",
        f"- command: `{run.get('command')}`, at {run.get('created_at')}",
        f"- git commit: `{git.get('commit')}`{dirty}",
        f"- index version: `{run.get('index_version')}`",
        f"- dataset: `{dataset.get('path')}` (sha256 `{str(dataset.get('sha256'))[:16]}…`)",
    ]
    for key in ("retriever", "reranker", "generator", "judge"):
        if key in run:
            lines.append(f"- {key}: {run[key]}")
    return "\n".join(lines)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        text = f"{value:.4f}" if isinstance(value, float) else str(value)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
