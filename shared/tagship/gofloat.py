"""Go's float formatting: ``strconv.FormatFloat(f, 'g', -1, 64)`` and ``encoding/json``'s float output."""

from __future__ import annotations

import math
import struct
from decimal import Decimal


def _digits(value: float, text: str | None = None) -> tuple[str, int]:
    """The shortest round-trip digits and the decimal exponent of the point (value = 0.d1d2… × 10^point)."""
    _, digits, exp = Decimal(text or repr(value)).normalize().as_tuple()
    ds = "".join(map(str, digits)).rstrip("0") or "0"
    return ds, len("".join(map(str, digits))) + exp


def format_g(value: float, bits: int = 64) -> str:
    """``strconv.FormatFloat(v, 'g', -1, bits)``: ``+Inf``, ``NaN``, ``-0``, ``1e+06``, ``1e-05``, ``123456``."""
    if bits == 32 and not math.isinf(value) and not math.isnan(value):
        value = _to32(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    neg = "-" if math.copysign(1, value) < 0 else ""
    if value == 0:
        return neg + "0"
    ds, point = _digits(abs(value), _shortest32(abs(value)) if bits == 32 else None)
    x = point - 1
    if x < -4 or x >= 6:  # shortest %g: eprec is 6
        mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        return f"{neg}{mant}e{'+' if x >= 0 else '-'}{abs(x):02d}"
    if point <= 0:
        return f"{neg}0.{'0' * -point}{ds}"
    if point >= len(ds):
        return neg + ds + "0" * (point - len(ds))
    return f"{neg}{ds[:point]}.{ds[point:]}"


def _to32(value: float) -> float:
    """``float32(v)``: round to nearest; beyond float32's range it is ±Inf."""
    try:
        return struct.unpack("f", struct.pack("f", value))[0]
    except OverflowError:
        return math.copysign(math.inf, value)


def _shortest32(value: float) -> str:
    f32 = struct.unpack("f", struct.pack("f", value))[0]
    for p in range(1, 10):
        text = f"{f32:.{p}g}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == f32:
            return text
    return repr(f32)


def json_float(value: float) -> str | None:
    """``encoding/json``'s float64 output; ``None`` where Go refuses (Inf, NaN)."""
    if math.isnan(value) or math.isinf(value):
        return None
    a = abs(value)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        ds, point = _digits(a)
        x = point - 1
        mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        return f"{'-' if value < 0 else ''}{mant}e{'+' if x >= 0 else '-'}{abs(x)}"
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    ds, point = _digits(a)
    neg = "-" if value < 0 else ""
    if point <= 0:
        return f"{neg}0.{'0' * -point}{ds}"
    if point >= len(ds):
        return neg + ds + "0" * (point - len(ds))
    return f"{neg}{ds[:point]}.{ds[point:]}"
