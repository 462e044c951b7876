"""How the sandbox delivers event hooks: batching, Okta's timeout and retry, injected faults."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class HookDeliveryConfig(BaseModel):
    """Okta sends a POST within seconds of an event, batching events written close together,
    waits 3 seconds for an answer and retries once after a timeout, a 5xx or a failed
    connection. ``timeout`` and ``retry_delay`` are settable so tests need not wait for them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    batch_window: float = Field(
        default=0.5, ge=0.0, le=60.0, description="seconds to gather events into one delivery"
    )
    max_events: int = Field(default=50, ge=1, le=1000, description="events per delivery")
    timeout: float = Field(default=3.0, gt=0.0, le=60.0, description="seconds per attempt")
    retry_delay: float = Field(default=0.5, ge=0.0, le=60.0, description="seconds before retry")


class HookFaultKind(StrEnum):
    """What an injected fault does to a delivery it hits."""

    DROP = "drop"  # never sent (as if Okta lost it); recorded as dropped
    DELAY = "delay"  # sent ``delay`` seconds late
    DUPLICATE = "duplicate"  # sent twice
    REORDER = (
        "reorder"  # its events shuffled, and held back ``delay`` seconds so later ones overtake it
    )


class HookFault(BaseModel):
    """A fault that hits each delivery with ``probability``, decided by a hash of (the hook
    fault seed, the fault's position, the hook's delivery number), so a seed always hits the
    same deliveries of a hook. The command line form is ``KIND[,p=X][,delay=S]``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: HookFaultKind
    probability: float = Field(default=1.0, ge=0.0, le=1.0)
    delay: float = Field(default=1.0, ge=0.0, le=600.0, description="seconds, delay and reorder")

    @classmethod
    def parse(cls, text: str) -> HookFault:
        """``drop,p=0.3``; ``duplicate,p=0.2``; ``delay,p=0.1,delay=4``; ``reorder,p=0.5``."""
        kind, *options = (part.strip() for part in text.split(","))
        values: dict[str, str] = {"kind": kind}
        for option in options:
            key, equals, value = option.partition("=")
            if not equals:
                raise ValueError(f"hook fault {text!r}: expected key=value, got {option!r}")
            key = {"p": "probability"}.get(key.strip(), key.strip())
            if key not in ("probability", "delay"):
                raise ValueError(f"hook fault {text!r}: unknown option {key!r} (p, delay)")
            values[key] = value.strip()
        return cls.model_validate(values)
