from __future__ import annotations

from modelreg.cli import main

main()
