"""Country codes as people write them."""

from __future__ import annotations

# Codes people write that ISO 3166-1 does not have, and names pycountry does not know.
COUNTRY_ALIASES = {
    "UK": "GB",
    "EL": "GR",
    "ENGLAND": "GB",
    "SCOTLAND": "GB",
    "WALES": "GB",
    "NORTHERN IRELAND": "GB",
}
