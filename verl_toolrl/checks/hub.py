"""Is the Hugging Face hub reachable? One quick probe instead of the libraries' retries.

Without ``HF_HUB_OFFLINE=1``, ``transformers`` and ``datasets`` retry an unreachable hub for tens of
seconds before they fail or fall back. The commands that may touch the hub (``python -m verl_toolrl
preflight``, ``recipes/quickstart.sh`` through ``python -m verl_toolrl hub``) probe it once, with a
short TCP connect to ``HF_ENDPOINT`` (default ``https://huggingface.co``), and work offline when it does
not answer, saying so.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from urllib.parse import urlsplit

DEFAULT_ENDPOINT = "https://huggingface.co"
PROBE_TIMEOUT_S = 3.0
OFFLINE_VALUES = ("1", "true", "yes", "on")


def hub_endpoint(environ: Mapping[str, str]) -> str:
    """The hub's address: ``HF_ENDPOINT`` or the public hub.

    >>> hub_endpoint({}), hub_endpoint({"HF_ENDPOINT": "http://mirror:8080"})
    ('https://huggingface.co', 'http://mirror:8080')
    """
    return environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT


def hub_reachable(endpoint: str = DEFAULT_ENDPOINT, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to the hub's host opens within ``timeout`` seconds.

    >>> hub_reachable("http://127.0.0.1:9", timeout=1.0)  # the discard port: nothing listens there
    False
    """
    parts = urlsplit(endpoint)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout):
            return True
    except OSError:  # refused, unresolvable, unroutable, timed out
        return False


def offline_notice(environ: Mapping[str, str], timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """A one-line notice when the hub should be treated as offline and is not yet: ``HF_HUB_OFFLINE`` is
    unset and the hub does not answer; None otherwise (set ``HF_HUB_OFFLINE=1`` when it is not None).

    >>> offline_notice({"HF_HUB_OFFLINE": "1"}) is None
    True
    >>> offline_notice({"HF_ENDPOINT": "http://127.0.0.1:9"}, timeout=1.0)  # doctest: +ELLIPSIS
    'the Hugging Face hub (http://127.0.0.1:9) does not answer within 1 s; working offline (HF_HUB_OFFLINE=1)...'
    """
    if environ.get("HF_HUB_OFFLINE", "").lower() in OFFLINE_VALUES:
        return None
    endpoint = hub_endpoint(environ)
    if hub_reachable(endpoint, timeout):
        return None
    return (
        f"the Hugging Face hub ({endpoint}) does not answer within {timeout:g} s; working offline "
        "(HF_HUB_OFFLINE=1): only local files and the hub cache are used"
    )
