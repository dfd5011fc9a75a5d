"""Run every benchmark module (`python -m benchmarks [name ...]`), printing each one's figures."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import benchmarks


def _modules() -> list[str]:
    return sorted(
        m.name
        for m in pkgutil.iter_modules(benchmarks.__path__)
        if not m.name.startswith("_") and m.name != "machine"
    )


def main(argv: list[str]) -> int:
    """Run the named benchmarks, or all of them."""
    names = argv or _modules()
    unknown = sorted(set(names) - set(_modules()))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(_modules())}")
        return 2
    for name in names:
        print(f"\n=== benchmarks.{name} ===", flush=True)
        importlib.import_module(f"benchmarks.{name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
