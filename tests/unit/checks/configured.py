"""Check specs built from ldirectord.cf text, the way the daemon builds them."""

from __future__ import annotations

from pathlib import Path

from ldirectorpy.checks import CheckSpec
from ldirectorpy.checks.fromconfig import spec_for
from ldirectorpy.config import Config, load


def config(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "ldirectord.cf"
    path.write_text(text)
    loaded = load(path)
    assert loaded.config is not None, loaded.diagnostics
    return loaded.config


def specs(cfg: Config) -> list[CheckSpec]:
    return [spec_for(v, r) for v in cfg.virtuals for r in v.reals]
