"""The error every generator backend raises when it cannot produce text.

Its own module so that backends and the package's registry (which imports the backends) both
import it from below, not from each other.
"""

from __future__ import annotations

from ipqa.errors import IpqaError


class GeneratorError(IpqaError):
    """A generator that could not produce text (endpoint unreachable, model failed to load…)."""
