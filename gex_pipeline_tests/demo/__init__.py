"""Tests of the demo data generator and the demo commands."""
