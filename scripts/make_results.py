"""Regenerate docs/RESULTS.md and the README's results block from results/ (see reports/results.py).

    .venv/bin/python scripts/make_results.py
"""
from reports.results import main

if __name__ == "__main__":
    main()
