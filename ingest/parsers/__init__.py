"""Structure parsers, one module per source kind. The ingest pipeline asks the file parsers first
(by sniffing the file's first bytes), then the text parsers in order (first whose ``detect`` is
true), and falls back to the plain-text parser.

Imports happen inside the functions so that importing ``ingest`` stays cheap.
"""

from __future__ import annotations

from ingest.protocols import FileParser, TextParser


def file_parsers() -> list[FileParser]:
    from ingest.parsers.uslm import UslmParser
    from ingest.parsers.uspto import UsptoParser

    return [UsptoParser(), UslmParser()]


def text_parsers() -> list[TextParser]:
    """Specific parsers first; the plain-text fallback last (its ``detect`` is always true).

    Judgments before statutes: a judgment quotes articles line by line, so the statute parser's
    ``detect`` alone would claim it; the judgment parser's test (a case number plus words only
    judgments use) is the narrower one.
    """
    from ingest.parsers.cn_judgment import CnJudgmentParser
    from ingest.parsers.cn_statute import CnStatuteParser
    from ingest.parsers.plain import PlainTextParser
    from ingest.parsers.us_opinion import UsOpinionParser
    from ingest.parsers.usc_markdown import UscMarkdownParser

    return [CnJudgmentParser(), CnStatuteParser(), UscMarkdownParser(), UsOpinionParser(),
            PlainTextParser()]
