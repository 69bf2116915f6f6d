"""Options that validate themselves with plain ``assert`` statements, as much application code
does. A module of its own because pytest rewrites the asserts of test files only (a rewritten
assert carries a message that a plain one has not)."""

from dataclasses import dataclass


@dataclass
class Asserting:
    batch: int = 10

    def __post_init__(self) -> None:
        assert self.batch <= 100, f"batch must be <= 100, got {self.batch}"
        assert self.batch > 0
