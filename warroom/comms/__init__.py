"""Incident communications: update templates, the update cadence, posting updates."""
