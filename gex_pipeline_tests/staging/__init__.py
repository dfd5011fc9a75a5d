"""Tests of the staging area: the group-commit writer, the reader, the history store."""
