"""GS1 identifiers of the sample plant: GTIN-14 and SSCC-18 with their mod-10 check digits.

>>> gs1_check_digit("0950600100001")
'4'
>>> gtin14(1)
'09506001000014'
>>> sscc18(1)
'095060010000000014'
>>> is_valid_gs1("09506001000014"), is_valid_gs1("09506001000019")
(True, False)
"""

from __future__ import annotations

__all__ = ["COMPANY_PREFIX", "gs1_check_digit", "gtin14", "is_valid_gs1", "sscc18"]

#: GS1 company prefix of the fictitious manufacturer (950 = GS1 Global Office, used for examples).
COMPANY_PREFIX = "9506001"


def gs1_check_digit(body: str) -> str:
    """The GS1 mod-10 check digit of ``body`` (every GS1 key without its last digit).

    Weights 3 and 1 alternate from the rightmost digit of the body.
    """
    if not body.isdigit():
        raise ValueError(f"a GS1 key body is digits only, not {body!r}")
    total = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def is_valid_gs1(key: str) -> bool:
    """Is ``key`` all digits with a correct mod-10 check digit?"""
    return len(key) > 1 and key.isdigit() and gs1_check_digit(key[:-1]) == key[-1]


def gtin14(item_reference: int, indicator: int = 0) -> str:
    """GTIN-14: indicator digit + company prefix + 5-digit item reference + check digit."""
    body = f"{indicator}{COMPANY_PREFIX}{item_reference:05d}"
    return body + gs1_check_digit(body)


def sscc18(serial_reference: int, extension: int = 0) -> str:
    """SSCC-18: extension digit + company prefix + 9-digit serial reference + check digit."""
    if not 0 <= serial_reference < 10**9:
        raise ValueError(f"SSCC serial reference out of range: {serial_reference}")
    body = f"{extension}{COMPANY_PREFIX}{serial_reference:09d}"
    return body + gs1_check_digit(body)
