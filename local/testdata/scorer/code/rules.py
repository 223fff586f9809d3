"""Sibling module of the scorer test handler; ``other/code/rules.py`` has the same module name.

The stand-in must give each handler its own ``rules``: the tests read NAME back from both.
"""

NAME = "scorer"
