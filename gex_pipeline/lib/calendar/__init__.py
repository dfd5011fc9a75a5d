"""The market calendar: trading dates (America/New_York) and feed keys."""
