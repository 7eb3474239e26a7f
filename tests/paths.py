"""Where the tests find the repository and the material beside it (``../shared/``: reference notes,
official ANS samples, the ANS demonstrator's artefacts). Imported as ``from paths import SHARED``."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
