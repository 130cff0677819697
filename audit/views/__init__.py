"""Blueprints: thin views that parse a form, call the domain and render."""
