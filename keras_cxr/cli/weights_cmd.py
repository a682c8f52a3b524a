"""``keras-cxr weights``: the ImageNet weight files behind ``weights="imagenet"``, for offline machines.

``list`` shows, per registered model, the keras.applications file it loads (or why it has
none), its size and whether a copy is already here; it downloads nothing and builds no
model. ``fetch NAME...`` puts verified copies into Keras's cache or ``--dir DIR`` (a
folder to copy to an offline machine and name there with ``KERAS_CXR_WEIGHTS_DIR``).
"""

import json
import os

HELP = "List and fetch the ImageNet weight files (for machines without internet: fetch, copy, point at)."


def add_parser(parser):
    sub = parser.add_subparsers(dest="weights_command", metavar="WEIGHTS_COMMAND", required=True)

    p = sub.add_parser("list", help="Every model's ImageNet file: source, name, size, whether it is here.")
    p.add_argument("--dir", default=None,
                   help="also look in this folder first (as KERAS_CXR_WEIGHTS_DIR would); default: that "
                        "variable, then Keras's cache ($KERAS_HOME/models, default ~/.keras/models)")
    p.add_argument("--verify", action="store_true", help="check the checksum (or size) of every copy found")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("names", nargs="*", help="only these models (default: all)")
    p.set_defaults(_weights=run_list)

    p = sub.add_parser("fetch", help="Download (or copy from the cache) verified ImageNet files for these models.")
    p.add_argument("names", nargs="+", metavar="NAME", help="model names (keras-cxr weights list), or 'all'")
    p.add_argument("--dir", default=None,
                   help="put the files in this folder (copy it to the offline machine and set "
                        "KERAS_CXR_WEIGHTS_DIR to it there); default: KERAS_CXR_WEIGHTS_DIR if set, "
                        "else Keras's cache")
    p.set_defaults(_weights=run_fetch)


def _size_text(row):
    if row["size"] is None:
        return "unknown until fetched"
    text = f"{row['size'] / 1e6:.1f} MB"
    return text if row["size_known"] else text + " (cached copy)"


def run_list(args):
    from keras_cxr.models.imagenet import WEIGHTS_DIR_ENV, search_dirs

    if args.dir is not None and not os.path.isdir(os.path.expanduser(args.dir)):
        raise FileNotFoundError(f"--dir {args.dir}: no such folder")
    from keras_cxr.models.imagenet import weights_table

    rows = weights_table(args.names, args.dir, args.verify)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        if row["source"] is None:
            print(f"{row['name']}\n  ImageNet: none: trained from scratch ({row['note']})")
            continue
        if row["cached"] is None:
            here = "not here"
        else:
            here = row["cached"] + {True: " (checksum ok)", False: " (CHECKSUM MISMATCH: replace it)",
                                    None: ""}[row["verified"]]
        print(f"{row['name']}\n  ImageNet: {row['source']}\n  file:     {row['file']}  ({_size_text(row)})\n"
              f"  URL:      {row['url']}\n  checksum: {row['checksum'] or 'none published by Keras'}\n"
              f"  cached:   {here}")
    files = {row["file"]: row for row in rows if row["file"]}
    missing = sorted(name for name, row in files.items() if row["cached"] is None)
    print(f"\n{len(files)} distinct files, {len(files) - len(missing)} here. Searched: "
          + ", ".join(search_dirs(args.dir)) + ".")
    print(f"Offline: `keras-cxr weights fetch NAME... --dir DIR` on a connected machine, copy DIR here, "
          f"set {WEIGHTS_DIR_ENV}=DIR (or copy the files into Keras's cache).")
    if args.verify and any(row["verified"] is False for row in rows):
        return 1
    return 0


def run_fetch(args):
    from keras_cxr.models import get_spec, list_models
    from keras_cxr.models.imagenet import fetch

    from keras_cxr.models.imagenet import ImagenetWeightsNotFound

    names = list_models() if args.names == ["all"] else args.names
    specs = [get_spec(name) for name in names]  # unknown names fail before anything is fetched
    if args.dir is not None and os.path.exists(os.path.expanduser(args.dir)) and not os.path.isdir(
            os.path.expanduser(args.dir)):
        raise ValueError(f"--dir {args.dir} is a file, not a folder")
    done = {}
    for spec in specs:
        file = getattr(spec.imagenet_source, "file", None)
        if file is None:
            print(f"{spec.name}: nothing to fetch (no ImageNet weights: {spec.imagenet_note or 'no source'})")
            continue
        if file.fname in done:
            print(f"{spec.name}: {done[file.fname]} (shared)")
            continue
        try:
            path, how = fetch(file, args.dir, spec.name)
        except ImagenetWeightsNotFound:
            raise
        except OSError as error:  # a folder that cannot be created or written
            raise ValueError(f"{spec.name}: cannot write {file.fname} to "
                             f"{args.dir or 'the weights folder'}: {error}") from error
        check = f"{file.hash_algorithm} checked" if file.file_hash else "size checked" if file.size else "unchecked"
        done[file.fname] = path
        print(f"{spec.name}: {path} ({how}; {check})")
    return 0


def run(args):
    return args._weights(args)
