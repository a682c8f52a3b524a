"""``keras-cxr data``: manifests, splits, preprocessing, synthetic data, checks."""

import sys

# The layout names, without importing the data package (and its dependencies) to build the parser.
LAYOUTS = ("folders", "covid19_radiography", "kermany", "covid19_cxr", "cohen", "covidx")

HELP = "Build manifests, split by patient, preprocess, generate synthetic data, check a dataset."


def add_parser(parser):
    sub = parser.add_subparsers(dest="data_command", metavar="DATA_COMMAND", required=True)

    p = sub.add_parser("manifest", help="Write a manifest CSV from a dataset on disk.")
    p.add_argument("src", help="dataset root folder")
    p.add_argument("--layout", default="folders", choices=list(LAYOUTS),
                   help="dataset layout: folders (a folder per class), covid19_radiography, kermany "
                        "(train|val|test/NORMAL|PNEUMONIA), covid19_cxr (Zhong 2020: "
                        "train|test/COVID19|NORMAL|PNEUMONIA), cohen, covidx")
    p.add_argument("--out", required=True, help="manifest CSV to write (class list goes beside it as .json)")
    p.add_argument("--classes", nargs="+", help="class names in order (default: the layout's)")
    p.add_argument("--relabel", action="append", default=[], metavar="OLD=NEW",
                   help="rename a class, e.g. 'Lung Opacity=Bacterial Pneumonia' (repeatable)")
    p.add_argument("--lung-opacity-as", default=None,
                   help="covid19_radiography: class for Lung_Opacity (Li et al. 2023, ConvNeXt-AT: "
                        "'Bacterial Pneumonia')")
    p.set_defaults(_data=run_manifest)

    p = sub.add_parser("split", help="Add a patient-grouped, stratified train/val/test split.")
    p.add_argument("manifest")
    p.add_argument("--out", required=True)
    p.add_argument("--val", type=float, default=0.2)
    p.add_argument("--test", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(_data=run_split)

    p = sub.add_parser("preprocess", help="Denoise / equalise / resize a folder of images once, on all cores.")
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--denoise", choices=["tv"], default=None,
                   help="total-variation denoising (Li et al. 2023, ConvNeXt-AT, section 2.2)")
    p.add_argument("--anscombe", action="store_true", help="Anscombe transform around TV (Poisson noise)")
    p.add_argument("--tv-weight", type=float, default=0.05)
    p.add_argument("--clahe", action="store_true")
    p.add_argument("--size", type=int, default=None, help="resize to SIZE x SIZE")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--overwrite", action="store_true",
                   help="reprocess every file; without it a DST made with other settings (recorded in "
                        "DST/preprocess.json) is refused, and one made with the same settings is resumed")
    p.set_defaults(_data=run_preprocess)

    p = sub.add_parser("synth", help="Write a synthetic 4-class CXR dataset with lesion masks.")
    p.add_argument("--out", required=True)
    p.add_argument("--per-class", type=int, default=50)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shortcut", metavar="CLASS",
                   help="plant a corner marker mostly on this class (a shortcut a model can learn; column 'marker')")
    p.add_argument("--shortcut-share", type=float, default=0.9,
                   help="share of the --shortcut class's images marked; the other classes get 1 - this (default 0.9)")
    p.set_defaults(_data=run_synth)

    p = sub.add_parser("check", help="Report unreadable files, counts, sizes, bit depths and duplicates.")
    p.add_argument("source", help="manifest CSV or dataset folder")
    p.add_argument("--out", default=None,
                   help="folder to write check.txt and bad_files.csv (if any file is unreadable) into; "
                        "without it the report is only printed")
    p.set_defaults(_data=run_check)


def run(args):
    return args._data(args)


def run_manifest(args):
    from keras_cxr.data import build_manifest, format_counts
    from keras_cxr.data.labels import parse_relabel

    options = {}
    if args.lung_opacity_as:
        if args.layout != "covid19_radiography":
            raise ValueError("--lung-opacity-as applies to --layout covid19_radiography only")
        options["lung_opacity_label"] = args.lung_opacity_as
    manifest = build_manifest(args.src, args.layout, relabel=parse_relabel(args.relabel), classes=args.classes,
                              **options)
    path = manifest.write(args.out)
    print(f"Wrote {path} ({len(manifest)} images, classes: {manifest.classes})")
    print(format_counts(manifest))
    for reason, count in sorted(manifest.meta.get("excluded", {}).items()):
        print(f"excluded {count}: {reason}")
    skipped = manifest.meta.get("skipped")
    if skipped:
        more = skipped["count"] - len(skipped["files"])
        print(f"skipped {skipped['count']} file(s) ({skipped['reason']}): " + ", ".join(skipped["files"])
              + (f", ... ({more} more)" if more > 0 else ""))
    return 0


def run_split(args):
    from keras_cxr.data import format_counts, read_manifest, split_manifest

    manifest = split_manifest(read_manifest(args.manifest), val=args.val, test=args.test, seed=args.seed)
    path = manifest.write(args.out)
    patients = {s: len({r["patient_id"] for r in manifest.records if r["split"] == s}) for s in ("train", "val", "test")}
    print(f"Wrote {path}; patients per split: {patients} (no patient in two splits)")
    print(format_counts(manifest))
    return 0


def run_preprocess(args):
    from keras_cxr.data import PreprocessOptions, preprocess_folder

    options = PreprocessOptions(denoise=args.denoise, anscombe=args.anscombe, tv_weight=args.tv_weight,
                                clahe=args.clahe, size=args.size)
    result = preprocess_folder(args.src, args.dst, options, workers=args.workers, progress=sys.stderr.isatty(),
                               overwrite=args.overwrite)
    print(f"processed {result['processed']}, skipped (already done with the same settings) {result['skipped']}, "
          f"unreadable {len(result['errors'])}")
    for path, error in result["errors"]:
        print(f"  {path}: {error}")
    return 1 if result["errors"] else 0


def run_synth(args):
    from keras_cxr.data import format_counts, generate_dataset

    manifest = generate_dataset(args.out, per_class=args.per_class, size=args.size, seed=args.seed,
                                shortcut=args.shortcut, shortcut_share=args.shortcut_share)
    print(f"Wrote {len(manifest)} synthetic images with lesion masks to {args.out} (manifest.csv inside)")
    if args.shortcut:
        marked = sum(r["marker"] == "yes" for r in manifest.records)
        print(f"Corner marker on {marked} images, mostly {args.shortcut} (share {args.shortcut_share}): "
              "a planted shortcut; `keras-cxr audit --by marker` tabulates it")
    print(format_counts(manifest))
    return 0


def run_check(args):
    from keras_cxr.data import check_dataset

    report = check_dataset(args.source, progress=sys.stderr.isatty())
    print(report.to_text())
    if args.out:
        print("Wrote " + ", ".join(str(p) for p in report.write(args.out)))
    return 0 if report.ok else 1
