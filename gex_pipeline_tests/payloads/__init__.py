"""Tests of the payload parsers (`/gex`, `/uw`, `/gex_history_url`)."""
