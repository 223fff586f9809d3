"""Sibling module of the other test handler; ``scorer/code/rules.py`` has the same module name."""

NAME = "other"
