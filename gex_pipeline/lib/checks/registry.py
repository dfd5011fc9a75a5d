"""A registry of data-integrity checks: each check declared once, run over a context.

A domain makes a `CheckRegistry` with the context its checks read (`PartitionContext` of
`gex_pipeline.lib.gex.integrity`, `TradeDayContext` of `gex_pipeline.lib.webhooks.integrity`) and
declares each check with `@registry.check(name, severity, judges=..., reads=...)` on its
evaluation, whose docstring is the check's description. An evaluation returns what it found as an
`IntegrityResult`; the check adds its name and severity to make the result every caller sees
(Dagster asset checks, `gex-pipeline validate`). Timestamps are epoch ms.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

WARN = "WARN"
ERROR = "ERROR"
C = TypeVar("C")


@dataclass(frozen=True)
class Block:
    """A run of defects: from `start_ms` to `end_ms` (epoch ms), `length` snapshots or seconds."""

    start_ms: int
    end_ms: int
    length: int


@dataclass(frozen=True, kw_only=True)
class IntegrityResult:
    """Verdict of one check on one partition; `severity` applies when `passed` is False.

    `examples` and `instants` hold epoch-ms timestamps; `blocks` runs of defects. An evaluation
    returns it without `name` and `severity`: the check that ran it fills them in.
    """

    name: str = ""
    passed: bool
    severity: str = ""
    counts: dict[str, int]
    examples: dict[str, tuple[int, ...]] = field(default_factory=dict)
    blocks: dict[str, tuple[Block, ...]] = field(default_factory=dict)
    instants: dict[str, int | None] = field(default_factory=dict)
    details: dict[str, str | float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class IntegrityCheck(Generic[C]):
    """One check as declared: what it judges (`judges`, the asset its verdict is recorded on) and
    reads, the UI's description, whether a failure blocks publishing (`gate`), its evaluation
    over a context `C`, and how a direct call builds that context.

    Called directly (`timestamp_gaps(con, day, limits)`), it builds the context from the
    arguments (reading what is not given) and returns the `IntegrityResult`.
    """

    name: str
    severity: str
    judges: str
    reads: tuple[str, ...]
    description: str
    gate: bool
    evaluate: Callable[[C], IntegrityResult]
    context: Callable[..., C]

    def result(self, found: IntegrityResult) -> IntegrityResult:
        """What an evaluation found, under this check's name and severity."""
        return replace(found, name=self.name, severity=self.severity)

    def run(self, context: C) -> IntegrityResult:
        """Evaluate the check over `context`."""
        return self.result(self.evaluate(context))

    def __call__(self, *args: Any, **kwargs: Any) -> IntegrityResult:
        return self.run(self.context(*args, **kwargs))


class CheckRegistry(Generic[C]):
    """The checks of one domain in report order, each declared with `@registry.check(...)`."""

    def __init__(self, context: Callable[..., C]) -> None:
        self.context = context
        self.checks: dict[str, IntegrityCheck[C]] = {}

    def check(
        self, name: str, severity: str, *, judges: str, reads: tuple[str, ...], gate: bool = False
    ) -> Callable[[Callable[[C], IntegrityResult]], IntegrityCheck[C]]:
        """Declare the decorated evaluation as the check `name`; its docstring is the check's
        description (what passing means, as the UI shows it)."""

        def declare(evaluate: Callable[[C], IntegrityResult]) -> IntegrityCheck[C]:
            description = " ".join((evaluate.__doc__ or "").split())
            if not description:
                raise ValueError(f"{name}: the evaluation's docstring describes the check")
            declared = IntegrityCheck(
                name, severity, judges, reads, description, gate, evaluate, self.context
            )
            self.checks[name] = declared
            return declared

        return declare

    @property
    def names(self) -> tuple[str, ...]:
        """Every check's name, in report order."""
        return tuple(self.checks)

    @property
    def gates(self) -> tuple[str, ...]:
        """The checks whose failure keeps the data out of Parquet, in report order."""
        return tuple(name for name, check in self.checks.items() if check.gate)

    def select(self, names: Collection[str] | None) -> list[IntegrityCheck[C]]:
        """The checks `names` (None: every check) in report order; ValueError naming unknown ones."""
        unknown = sorted(set(names or ()) - set(self.checks))
        if unknown:
            raise ValueError(f"names: unknown check(s) {', '.join(unknown)}")
        return [check for name, check in self.checks.items() if names is None or name in names]
