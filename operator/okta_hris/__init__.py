"""okta-hris-operator: keep an employee directory in sync with an Okta org."""

__version__ = "0.1.0"
