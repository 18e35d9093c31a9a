"""One check for the three settings sections of a model (``model.features``, ``model.views``,
``model.head``): a section gives exactly the settings its part takes, no unknown one (a typo would
otherwise be dropped or crash deep inside a constructor) and none missing."""

from __future__ import annotations

from collections.abc import Iterable


def check_keys(section: str, given: Iterable[str], wanted: Iterable[str], kind: str | None = None) -> None:
    """Raise one ValueError naming the stray and missing ``<section>.<key>`` settings, if any."""
    given, wanted = set(given), set(wanted)
    stray, missing = sorted(given - wanted), sorted(wanted - given)
    if not (stray or missing):
        return
    what = f"{section} of kind {kind!r}" if kind else section
    raise ValueError(
        f"{what} takes {sorted(wanted)}"
        + (f"; {', '.join(f'{section}.{k}' for k in stray)}: not one of them" if stray else "")
        + (f"; missing {', '.join(f'{section}.{k}' for k in missing)}" if missing else "")
    )
