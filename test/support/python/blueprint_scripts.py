"""Loads a blueprint's model scripts in tests, each under a name of its own.

Every blueprint ships ``train.py`` and ``inference.py`` (the names SageMaker's containers run), so
importing them by name would let one blueprint's module shadow another's. ``load_script`` loads a
file under a unique module name, with its folder on ``sys.path`` while it executes so that it can
import its sibling modules, which blueprints name uniquely (e.g. ``two_tower.py``).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType


def load_script(folder: str, file_name: str) -> ModuleType:
    """Imports ``folder/file_name`` as a module named after the folder's path and the file."""
    path = os.path.join(folder, file_name)
    unique = "_".join(part for part in os.path.normpath(path).replace(".py", "").split(os.sep)[-4:] if part)
    name = "blueprint_script_" + "".join(c if c.isalnum() else "_" for c in unique)
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, folder)
    try:
        sys.modules[name] = module
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    finally:
        sys.path.remove(folder)
    return module
