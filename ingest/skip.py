"""Files that hold nothing to ingest by design, which a batch reports as skipped, not as errors."""

from __future__ import annotations

from pathlib import PurePath

from ipqa.errors import InputError

# Hugo (the site generator the cn-law collection is published with) gives every folder an
# ``_index.md`` holding only front matter (``bookCollapseSection: true``): a navigation stub.
SECTION_INDEX_NAME = "_index.md"
SECTION_INDEX_REASON = "folder index of a static site (_index.md with front matter only): no text to ingest"


class SkipFile(InputError):
    """Raised for a file that is not content (a site generator's folder index). Unlike other
    InputErrors it is not a problem with the file: the pipeline lists it under ``skipped``."""


def is_section_index_name(path: str) -> bool:
    return PurePath(path).name == SECTION_INDEX_NAME
