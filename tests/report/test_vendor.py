"""The vendored Chart.js is the file templates/web/vendor/README.md names (version, licence, hash)."""

from __future__ import annotations

import hashlib
import re

from velollm.resources import data_dir


def test_vendored_chartjs_matches_its_record() -> None:
    vendor = data_dir("web") / "vendor"
    record = (vendor / "README.md").read_text(encoding="utf-8")
    script = (vendor / "chart.umd.min.js").read_bytes()
    (recorded,) = re.findall(r"sha256 of chart.umd.min.js: `([0-9a-f]{64})`", record)
    assert hashlib.sha256(script).hexdigest() == recorded
    version = re.search(r"\| Chart.js \| ([\d.]+) \|", record)
    assert version is not None
    assert script.startswith(f"/*!\n * Chart.js v{version.group(1)}\n".encode())
    assert "The MIT License" in (vendor / "chart.js.LICENSE.md").read_text(encoding="utf-8")
