"""The fixed tune/check split of the dev letters (issue 12, item 6).

Rules are written and adjusted looking only at *tune* disagreements; *check* letters measure whether a
change generalises. The split is a pure function of the case number, so it never moves:

- a case whose ``case_id`` is an IMR case number (``CMyy-nnnnnnn``, e.g. ``CM16-0230548``) is in
  **check** when ``int(hashlib.sha256(case_id.encode()).hexdigest(), 16) % 3 == 0``, else in **tune**;
- every other case (the seed letters ``SEED-nnn``, example cases, hand-made cases) is in **tune**.
"""

from __future__ import annotations

import hashlib
import re
from typing import Literal

Split = Literal["tune", "check"]
SPLITS: tuple[Split, ...] = ("tune", "check")
CASE_NUMBER = re.compile(r"^CM\d{2}-\d{7}$")
CHECK_MODULUS = 3


def split_of(case_id: str) -> Split:
    """``check`` for a dev letter whose case number hashes to 0 modulo 3; ``tune`` for everything else."""
    if not CASE_NUMBER.match(case_id):
        return "tune"
    digest = int(hashlib.sha256(case_id.encode()).hexdigest(), 16)
    return "check" if digest % CHECK_MODULUS == 0 else "tune"
