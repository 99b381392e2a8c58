"""Altering a sealed value or a signed token in a way that is sure to change what it carries."""

from __future__ import annotations


def altered(text: str) -> str:
    """`text` with one character of its base64url tail replaced by a different one.

    The character is taken well inside the last segment: the final character of unpadded
    base64url may carry only padding bits, which lenient decoders ignore, and a fixed
    replacement ("…AA") is no change at all when the text already ends that way.
    """
    index = len(text) - 8
    if index <= text.rfind(".") or text[index] in ".=":
        raise ValueError("the last segment is too short to alter safely")
    replacement = "B" if text[index] != "B" else "C"
    return text[:index] + replacement + text[index + 1:]
