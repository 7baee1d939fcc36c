"""Measure letter extraction against the annotations: precision and recall per field.

Runs ``imr-rules extract`` on every annotated dev letter and compares, field by field, with
``../shared/annotations/dev.jsonl`` (rules in ``tools.extraction_quality``).

Usage: python scripts/extraction_quality.py [--annotations PATH] [--letters DIR] [--pdf] [--markdown]
                                            [--misses N] [--alignment] [--fields] [--all-keys]
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: tools/ lives there

from imr_rules.intake.extract import extract_letter
from tools.extraction_quality import (
    evaluate,
    render_alignment,
    render_fields,
    render_markdown,
    render_misses,
    render_text,
)

SHARED = Path(__file__).resolve().parents[2] / "shared"


def _progress(done: int, total: int, stem: str) -> None:
    end = "\n" if done == total else ""
    sys.stderr.write(f"\r[{done}/{total}] {stem:<16}{end}")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    """Run the measurement and print the table; exit 2 when the annotations or letters are missing."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotations", type=Path, default=SHARED / "annotations" / "dev.jsonl",
                        help="annotations JSONL (default: ../shared/annotations/dev.jsonl)")
    parser.add_argument("--letters", type=Path, default=SHARED / "letters" / "dev",
                        help="folder of the letters (default: ../shared/letters/dev)")
    parser.add_argument("--pdf", action="store_true", help="read the .pdf letters instead of the .txt")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table (for the README)")
    parser.add_argument("--misses", type=int, default=0, metavar="N",
                        help="also print up to N misses per field (gold vs extracted)")
    parser.add_argument("--alignment", action="store_true",
                        help="also print every annotation/extraction alignment problem")
    parser.add_argument("--fields", action="store_true", help="also print what each field is compared with")
    parser.add_argument("--all-keys", action="store_true",
                        help="list every unscored annotated fact key (default: those annotated twice or more)")
    parser.add_argument("--against-cases", type=Path, metavar="DIR",
                        help="also compare clinical facts with the hand-made cases in DIR (e.g. cases/historical)")
    args = parser.parse_args(argv)
    if not args.annotations.is_file():
        print(f"error: no annotations at {args.annotations}", file=sys.stderr)
        return 2
    if not args.letters.is_dir():
        print(f"error: no letters folder at {args.letters}", file=sys.stderr)
        return 2
    extract = functools.cache(extract_letter)  # each letter extracted once, also for --against-cases
    report = evaluate(args.annotations, args.letters, pdf=args.pdf,
                      progress=_progress if sys.stderr.isatty() else None, extract=extract)
    minimum = 1 if args.all_keys else 2
    print(render_markdown(report, minimum) if args.markdown else render_text(report, minimum))
    if args.fields:
        print("\nFields compared:\n" + render_fields(report))
    if args.alignment:
        print("\nAlignment problems:\n" + render_alignment(report))
    if args.misses:
        print("\nMisses:\n" + render_misses(report, args.misses))
    if args.against_cases:
        from tools import extraction_vs_cases

        suffix = ".pdf" if args.pdf else ".txt"
        tallies, compared = extraction_vs_cases.compare(sorted(args.letters.glob(f"*{suffix}")), args.against_cases,
                                                        extract)
        print("\nAgainst the hand-made cases:\n" + extraction_vs_cases.render_markdown(tallies, compared))
    return 0


if __name__ == "__main__":
    sys.exit(main())
