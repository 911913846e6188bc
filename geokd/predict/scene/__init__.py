"""Resolving what the user names as a scene, once, and opening it for the model."""
