"""The one accessor for the shipped data folders profiles/, templates/ (with web/: the report
and dashboard pages) and schemas/.

In a wheel they are force-included under velollm/; in a checkout or editable install they sit at the
repository root beside the package (see shared/style.md, "Shipping top-level data inside the wheel").
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, Literal

DataDir = Literal["profiles", "templates", "schemas", "web"]
_PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir(name: DataDir) -> Path:
    if name == "web":  # inside templates/: the top level of the repository is fixed
        return data_dir("templates") / "web"
    packaged = _PACKAGE_DIR / name
    if packaged.is_dir():
        return packaged  # installed wheel
    return _PACKAGE_DIR.parent / name  # source checkout / editable install


def data_file(name: DataDir, filename: str) -> Path:
    return data_dir(name) / filename


@cache
def load_schema(filename: str) -> dict[str, Any]:
    with data_file("schemas", filename).open(encoding="utf-8") as fh:
        schema: dict[str, Any] = json.load(fh)
    return schema
