"""Tests of the history domain: day-file names, downloads, imports, restore."""
