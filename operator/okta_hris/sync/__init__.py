"""The sync engine: fetch Okta, decide who belongs, diff, apply to the directory."""
