"""Integrity check machinery shared by the domains."""
