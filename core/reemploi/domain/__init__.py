"""Réemploi."""
