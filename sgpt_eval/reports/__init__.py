"""Reports: the typed per-run report and what reads it (tables, comparisons, regression checks)."""
