"""``keras-cxr audit``: leakage, label conflicts and confounds in a dataset; with ``--model``, shortcut probes."""

import sys

HELP = ("Audit a dataset before trusting its numbers: identical and near-duplicate images within and across "
        "splits and sources, label conflicts, label x source/population confounds (Cramér's V); with --model, "
        "shortcut probes of a trained model (site in its features, accuracy with the lungs hidden).")


def add_parser(parser):
    parser.add_argument("--data", required=True, help="manifest CSV or image folder")
    parser.add_argument("--out", required=True, help="folder for audit.json, audit.md, report.html and the figures")
    parser.add_argument("--by", nargs="+", help="manifest columns to tabulate against the label "
                        "(default: source and population where the manifest has them)")
    parser.add_argument("--max-distance", type=int,
                        help="largest difference-hash distance (of 256 bits) for a pair to be compared in detail "
                             "(default: keras_cxr.data.duplicates.CANDIDATE_DISTANCE)")
    parser.add_argument("--min-similarity", type=float,
                        help="smallest fine-detail correlation (-1..1) called a near-duplicate "
                             "(default: keras_cxr.data.duplicates.MIN_SIMILARITY)")
    parser.add_argument("--model", help="run directory or .keras file: add shortcut probes of this model (linear "
                        "probe of its features for source/population, accuracy with the lungs hidden, with only "
                        "the lungs kept and with the border hidden, Grad-CAM energy inside the lungs)")
    parser.add_argument("--lung-masks", help="folder of lung-field masks, one per image with the image's file stem "
                        "(any image format, the image's size); default: a fixed box, see docs/AUDIT.md")


def run(args):
    from keras_cxr.audit import audit_dataset
    from keras_cxr.audit.report import findings
    from keras_cxr.data.duplicates import CANDIDATE_DISTANCE, MIN_SIMILARITY

    distance = CANDIDATE_DISTANCE if args.max_distance is None else args.max_distance
    similarity = MIN_SIMILARITY if args.min_similarity is None else args.min_similarity
    result = audit_dataset(args.data, args.out, by=args.by, max_distance=distance, min_similarity=similarity,
                           progress=sys.stderr.isatty(), model=args.model, lung_masks=args.lung_masks)
    found = findings(result)
    print(f"{result['images']} images audited; wrote {args.out}/report.html, audit.md and audit.json")
    probes = result.get("shortcut_probes")
    if probes:
        print(f"Shortcut probes of {probes['model']} on {probes['images']} images: {probes['verdict']['reason']}")
    print("\n".join(found) if found else "No leakage, label conflict or strong confound found"
          + (", no shortcut." if probes else "."))
    return 1 if found else 0
