"""The Okta sandbox: a faithful, fast Okta Management API server for demos, tests and benchmarks.

```python
from okta_hris.sandbox import SandboxConfig, run_sandbox

with run_sandbox(SandboxConfig(users=200, groups=20, seed=7)) as sandbox:
    ...  # talk to sandbox.url with "Authorization: SSWS <sandbox.token>"
```

See ``SPEC.md`` §8 and ``docs/ARCHITECTURE.md`` for the contract.
"""

from okta_hris.sandbox.config import (
    DEFAULT_TOKEN,
    Fault,
    FaultKind,
    RateLimitConfig,
    SandboxConfig,
)
from okta_hris.sandbox.hookconfig import HookDeliveryConfig, HookFault, HookFaultKind
from okta_hris.sandbox.hookdelivery import HookDelivery
from okta_hris.sandbox.server import RecordedRequest, Sandbox, run_sandbox, start_sandbox

__all__ = [
    "DEFAULT_TOKEN",
    "Fault",
    "FaultKind",
    "HookDelivery",
    "HookDeliveryConfig",
    "HookFault",
    "HookFaultKind",
    "RateLimitConfig",
    "RecordedRequest",
    "Sandbox",
    "SandboxConfig",
    "run_sandbox",
    "start_sandbox",
]
