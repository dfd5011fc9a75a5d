"""Test helpers shared by several domains: staging builders and real servers."""
