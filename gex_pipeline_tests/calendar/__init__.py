"""Tests of the market calendar and trading dates."""
