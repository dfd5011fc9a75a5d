"""End-to-end tests in a real browser (headless Chromium): the userscripts' clients."""
