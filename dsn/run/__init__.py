"""One run, start to end: run directory, feature caches, fit, test, report, one-line errors."""
