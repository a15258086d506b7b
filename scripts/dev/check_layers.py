#!/usr/bin/env python3
"""The layer check the test command runs: a file in src/LAYER/ or include/ddpm/LAYER/ may include
headers of its own layer and of the layers below it, never above.
usage: check_layers.py [--root DIR]          (default: the repository)
       check_layers.py --self-test           (shows that an upward include fails the check)"""
import pathlib
import re
import sys
import tempfile

# Bottom to top. A sub-folder (data/builtin) belongs to its top folder's layer.
LAYERS = ["base", "config", "diffusion", "sampling", "model", "data", "io", "inference",
          "evaluation", "distributed", "training", "cli"]
RANK = {name: i for i, name in enumerate(LAYERS)}
INCLUDE = re.compile(r'^\s*#\s*include\s+"ddpm/([^"]+)"', re.M)


def layer_of(relative):
    """The layer of a path relative to src/ or include/ddpm/, or None for a top-level file."""
    parts = pathlib.PurePosixPath(relative).parts
    return parts[0] if len(parts) > 1 else None


def violations(root):
    found = []
    for top in (root / "src", root / "include" / "ddpm"):
        for path in sorted(top.rglob("*")):
            if path.suffix not in (".cpp", ".h"):
                continue
            own = layer_of(path.relative_to(top).as_posix())
            if own is None:
                if top.name == "ddpm":
                    found.append(f"{path.relative_to(root)}: a header directly in include/ddpm/; "
                                 "put it in its layer's folder")
                continue  # src/main.cpp sits above every layer
            if own not in RANK:
                found.append(f"{path.relative_to(root)}: folder '{own}' is no layer; known, bottom "
                             f"to top: {', '.join(LAYERS)} (scripts/dev/check_layers.py)")
                continue
            for line_no, header in included(path):
                target = layer_of(header)
                if target not in RANK:
                    found.append(f"{path.relative_to(root)}:{line_no}: includes ddpm/{header}, "
                                 "which is in no layer")
                elif RANK[target] > RANK[own]:
                    found.append(f"{path.relative_to(root)}:{line_no}: layer '{own}' includes "
                                 f"ddpm/{header} of the higher layer '{target}'")
    return found


def included(path):
    text = path.read_text(encoding="utf-8")
    for match in INCLUDE.finditer(text):
        yield text.count("\n", 0, match.start()) + 1, match.group(1)


def self_test():
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        (root / "src" / "base").mkdir(parents=True)
        (root / "include" / "ddpm" / "training").mkdir(parents=True)
        (root / "include" / "ddpm" / "training" / "trainer.h").write_text("#pragma once\n")
        (root / "src" / "base" / "error.cpp").write_text('#include "ddpm/training/trainer.h"\n')
        found = violations(root)
        expected = ("src/base/error.cpp:1: layer 'base' includes ddpm/training/trainer.h of the "
                    "higher layer 'training'")
        if found != [expected]:
            print(f"layers self-test: expected [{expected!r}], got {found!r}")
            return 1
        (root / "src" / "base" / "error.cpp").write_text('#include "ddpm/base/crc.h"\n')
        if violations(root):
            print(f"layers self-test: a same-layer include was refused: {violations(root)!r}")
            return 1
    print("layers self-test: an upward include fails the check, a same-layer one passes")
    return 0


def main(argv):
    if argv[1:2] == ["--self-test"]:
        return self_test()
    root = pathlib.Path(argv[2] if argv[1:2] == ["--root"] else pathlib.Path(__file__).parents[2])
    found = violations(root)
    for line in found:
        print(line)
    if found:
        print(f"layers: {len(found)} include(s) break the layering (bottom to top: "
              f"{', '.join(LAYERS)})")
        return 1
    print(f"layers: every include of src/ and include/ddpm/ stays in its layer or below "
          f"({' < '.join(LAYERS)})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
