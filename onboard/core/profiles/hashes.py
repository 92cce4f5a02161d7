"""The spellings of a Nix sha256: SRI (`sha256-` + base64), Nix's base-32, hex.

A pin's narHash (and a tarball's sha256) may be written in any spelling Nix accepts;
onboard keeps SRI and renders base-32 where old Nix wants it.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Optional

__all__ = ["NIX32", "nix32_encode", "nix32_decode", "sha256_to_sri", "sri_to_nix32"]


NIX32 = "0123456789abcdfghijklmnpqrsvwxyz"


def nix32_encode(data: bytes) -> str:
    n = (len(data) * 8 - 1) // 5 + 1
    out = []
    for i in range(n - 1, -1, -1):
        b = i * 5
        j, k = divmod(b, 8)
        c = data[j] >> k
        if j + 1 < len(data):
            c |= data[j + 1] << (8 - k)
        out.append(NIX32[c & 0x1F])
    return "".join(out)


def nix32_decode(text: str, size: int = 32) -> Optional[bytes]:
    if len(text) != (size * 8 - 1) // 5 + 1 or any(c not in NIX32 for c in text):
        return None
    out = bytearray(size)
    for n, ch in enumerate(reversed(text)):
        digit = NIX32.index(ch)
        b = n * 5
        j, k = divmod(b, 8)
        out[j] |= (digit << k) & 0xFF
        if j + 1 < size:
            out[j + 1] |= digit >> (8 - k)
        elif digit >> (8 - k):
            return None
    return bytes(out)


def sha256_to_sri(text: str) -> Optional[str]:
    """Any sha256 spelling Nix accepts (SRI, sha256:base32, base32, hex) -> SRI, or None."""
    t = text.strip()
    raw: Optional[bytes] = None
    if t.startswith("sha256-"):
        try:
            raw = base64.b64decode(t[7:], validate=True)
        except (binascii.Error, ValueError):
            return None
    else:
        if t.startswith("sha256:"):
            t = t[7:]
        if re.fullmatch(r"[0-9a-fA-F]{64}", t):
            raw = bytes.fromhex(t)
        else:
            raw = nix32_decode(t)
    if raw is None or len(raw) != 32:
        return None
    return "sha256-" + base64.b64encode(raw).decode()


def sri_to_nix32(sri: str) -> str:
    return nix32_encode(base64.b64decode(sri[7:]))
