"""Regenerate docs/RESULTS.md and the README's results block from results/ (see reports/results.py).

    .venv/bin/python scripts/make_results.py
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reports.results import main  # noqa: E402

if __name__ == "__main__":
    main()
