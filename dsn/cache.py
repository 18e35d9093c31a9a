"""``dsn-cache``: show the on-disk cache of decoded images and backbone features, trim or clear it.

    dsn-cache                      # entries and size of .cache/dsn (the default paths.cache_dir)
    dsn-cache --max-gb 5           # remove least recently used entries down to 5 GB
    dsn-cache --clear              # remove every entry

Runs trim the cache themselves to ``feature_cache.max_gb`` (20 GB by default) after building it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dsn.utils.tensor_cache import entries, evict


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", default=".cache/dsn", help="cache folder (paths.cache_dir; default .cache/dsn)")
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--clear", action="store_true", help="remove every entry")
    group.add_argument(
        "--max-gb", type=float, default=None, help="remove least recently used entries down to this size"
    )
    args = ap.parse_args(argv)
    folder = Path(args.dir)
    if args.clear or args.max_gb is not None:
        removed = evict([folder], 0 if args.clear else args.max_gb * 1e9)
        print(f"removed {len(removed)} entries")
    files = entries([folder])
    size = sum(p.stat().st_size for p in files)
    print(f"{folder}: {len(files)} entries, {size / 1e9:.3f} GB")


if __name__ == "__main__":
    main()
