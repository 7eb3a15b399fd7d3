"""Messages for clients without the server's paths.

ipqa's errors are written for the people who run it, so they name files and directories ("no index
at /srv/ipqa/var/index: build one …", "another index build is running on /srv/…"). A client must not
learn the server's layout from them: the full message is logged, the client gets it with every
absolute path replaced.
"""

from __future__ import annotations

import logging
import re

SERVER_PATH = "<server path>"

# An absolute POSIX path of at least two components, not part of a URL (http://host/v1/x) or of a
# word ("and/or", 专利法/商标法).
_ABSOLUTE_PATH = re.compile(r"(?<![\w/.:~-])/[^\s/'\"`()<>，。；：,;:]+(?:/[^\s/'\"`()<>，。；：,;:]*)+")


def without_server_paths(message: str) -> str:
    return _ABSOLUTE_PATH.sub(SERVER_PATH, message)


def client_message(message: str, logger: logging.Logger, context: str) -> str:
    """``message`` for a client; the original is logged (with ``context``) when it named a path."""
    public = without_server_paths(message)
    if public != message:
        logger.warning("%s: %s", context, message)
    return public
