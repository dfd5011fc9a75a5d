"""The single Dagster `Definitions` of the gex_pipeline code location."""

from __future__ import annotations

import dagster as dg

defs = dg.Definitions()
