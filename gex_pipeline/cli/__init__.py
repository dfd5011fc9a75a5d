"""The `gex-pipeline` command: stack, demo data, restore."""

from gex_pipeline.cli.main import main

__all__ = ["main"]
