"""``keras-cxr audit``: leakage, label conflicts and confounds in a dataset."""

import sys

HELP = ("Audit a dataset before trusting its numbers: identical and near-duplicate images within and across "
        "splits and sources, label conflicts, label x source/population confounds (Cramér's V).")


def add_parser(parser):
    parser.add_argument("--data", required=True, help="manifest CSV or image folder")
    parser.add_argument("--out", required=True, help="folder for audit.json, audit.md and the figures")
    parser.add_argument("--by", nargs="+", help="manifest columns to tabulate against the label "
                        "(default: source and population where the manifest has them)")
    parser.add_argument("--max-distance", type=int,
                        help="largest difference-hash distance (of 256 bits) for a pair to be compared in detail "
                             "(default: keras_cxr.data.duplicates.CANDIDATE_DISTANCE)")
    parser.add_argument("--min-similarity", type=float,
                        help="smallest fine-detail correlation (-1..1) called a near-duplicate "
                             "(default: keras_cxr.data.duplicates.MIN_SIMILARITY)")


def run(args):
    from keras_cxr.audit import audit_dataset
    from keras_cxr.audit.report import findings
    from keras_cxr.data.duplicates import CANDIDATE_DISTANCE, MIN_SIMILARITY

    distance = CANDIDATE_DISTANCE if args.max_distance is None else args.max_distance
    similarity = MIN_SIMILARITY if args.min_similarity is None else args.min_similarity
    result = audit_dataset(args.data, args.out, by=args.by, max_distance=distance, min_similarity=similarity,
                           progress=sys.stderr.isatty())
    found = findings(result)
    print(f"{result['images']} images audited; wrote {args.out}/audit.md and audit.json")
    print("\n".join(found) if found else "No leakage, label conflict or strong confound found.")
    return 1 if found else 0
