"""Two versions of one fictional law (2010, in force 2010-02-01 to 2024-01-19; 2023, in force from
2024-01-20) as cn-law Markdown files, for the tests of the law as of a date: which version is
searched, cited and shown."""

from __future__ import annotations

from pathlib import Path

TITLE = "示例专利实施细则"
QUESTION = "请求宣告专利权无效的，应当向哪个部门提交无效宣告请求书？"
OLD_BODY = "专利复审委员会"  # the 2010 version's answer
NEW_BODY = "国务院专利行政部门"  # the 2023 version's

_VERSIONS = {
    "2010-01-09": ("2010年1月9日 示例国务院令第五百六十九号修订（演示用虚构文本）", OLD_BODY, "2010年2月1日"),
    "2023-12-11": ("2023年12月11日 示例国务院令第七百六十九号修订（演示用虚构文本）", NEW_BODY, "2024年1月20日"),
}


def write_versioned_law(directory: Path) -> Path:
    """Write both versions under ``directory`` (created); return it."""
    directory.mkdir(parents=True, exist_ok=True)
    for version, (history, body, effective) in _VERSIONS.items():
        text = (f"# {TITLE}\n\n{history}\n\n<!-- INFO END -->\n\n"
                "第一条 为了实施示例专利制度，制定本细则。\n\n"
                f"第二条 请求宣告专利权无效的，应当向{body}提交无效宣告请求书，并说明理由。\n\n"
                f"第三条 本细则自{effective}起施行。\n")
        (directory / f"{TITLE}({version}).md").write_text(text, encoding="utf-8")
    return directory
