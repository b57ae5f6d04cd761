"""Logging set-up for entry points (CLIs, app.py); library modules never call it."""

from __future__ import annotations

import logging

# Third-party loggers that narrate routine work (pypdf reports every odd PDF
# object it repairs); quiet unless the user asks for debug output.
_NOISY = ("pypdf", "chromadb", "httpx", "httpx2", "openai", "sentence_transformers", "transformers")


def configure_logging(verbose: int = 0) -> None:
    """0: warnings only, 1: info, 2+: debug including third-party chatter."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if verbose < 2:
        for name in _NOISY:
            logging.getLogger(name).setLevel(logging.ERROR)
