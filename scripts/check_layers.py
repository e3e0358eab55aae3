#!/usr/bin/env python3
"""Checks that recship's layers depend only downwards (docs/DESIGN.md).

Fails, naming the file and line, on:
  - an `#include "recship/<layer>/..."` in src/<L>/ or include/recship/<L>/
    (or in a C++ test of layer L) of a layer that L may not use;
  - an `#include "src/<layer>/..."` (a private header) outside its layer;
  - a gRPC include below the serving layer;
  - a `target_link_libraries(recship_<L> ...)` in CMakeLists.txt that names
    a layer L may not use, or a test registered with a library above the
    layers its includes need.

Usage: check_layers.py [REPO_ROOT]   (default: the repository holding this
script). Exit status 0 when clean, 1 with one line per violation.
"""

import pathlib
import re
import sys

# What each layer may use, besides itself. runtime and export are siblings:
# neither uses the other.
ALLOWED = {
    "core": set(),
    "format": {"core"},
    "graph": {"core", "format"},
    "model": {"core", "format", "graph"},
    "export": {"core", "format", "graph", "model"},
    "runtime": {"core", "format", "graph"},
    "serving": {"core", "format", "graph", "runtime"},
    "verify": {"core", "format", "graph", "model", "export", "runtime", "serving"},
    "cli": {"core", "format", "graph", "model", "export", "runtime", "serving", "verify"},
    "python": {"core", "format", "graph", "model", "export", "runtime", "serving", "verify"},
}
# Libraries that are not layers, and the layers that may link them.
EXTRA_LIBRARIES = {"recship_protos": "format", "recship_grpc_protos": "serving"}
GRPC_INCLUDE = re.compile(r'#include\s+[<"](grpcpp/|grpc/|.*\.grpc\.pb\.h)')
RECSHIP_INCLUDE = re.compile(r'#include\s+"recship/(\w+)/')
PRIVATE_INCLUDE = re.compile(r'#include\s+"src/(\w+)/')


def may_use(layer, other):
    return other == layer or other in ALLOWED[layer]


def check_includes(path, layer, root, errors):
    rel = path.relative_to(root)
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        m = RECSHIP_INCLUDE.match(line.strip())
        if m and m.group(1) in ALLOWED and not may_use(layer, m.group(1)):
            errors.append(f"{rel}:{number}: layer {layer} includes {m.group(1)}/, which it may "
                          f"not use (it may use: {', '.join(sorted(ALLOWED[layer])) or 'nothing'})")
        m = PRIVATE_INCLUDE.match(line.strip())
        if m and m.group(1) != layer:
            errors.append(f"{rel}:{number}: layer {layer} includes a private header of "
                          f"{m.group(1)}/ (src/{m.group(1)}/ is for that layer only)")
        if GRPC_INCLUDE.match(line.strip()) and not may_use(layer, "serving"):
            errors.append(f"{rel}:{number}: layer {layer} includes gRPC, which only serving "
                          f"and cli use")


def link_blocks(cmake_text):
    """(target, [linked names], line) for each target_link_libraries call."""
    for m in re.finditer(r"target_link_libraries\(\s*([\w-]+)([^)]*)\)", cmake_text):
        line = cmake_text.count("\n", 0, m.start()) + 1
        yield m.group(1), re.findall(r"recship_\w+", m.group(2)), line


def layer_of_library(name):
    if name in EXTRA_LIBRARIES:
        return EXTRA_LIBRARIES[name]
    layer = name[len("recship_"):]
    return layer if layer in ALLOWED else None


def check_links(root, errors):
    cmake = root / "CMakeLists.txt"
    for target, linked, line in link_blocks(cmake.read_text()):
        layer = layer_of_library(target)
        if layer is None or target in EXTRA_LIBRARIES:
            continue
        for name in linked:
            other = layer_of_library(name)
            if other is not None and not may_use(layer, other):
                errors.append(f"CMakeLists.txt:{line}: {target} links {name}, a layer "
                              f"({other}) that {layer} may not use")


def test_layers(root):
    """Each C++ test's layer: the highest of the libraries it is registered with
    (a test of export and serving together is a cli-level test)."""
    layers = {}
    cmake = root / "tests" / "cpp" / "CMakeLists.txt"
    for m in re.finditer(r"recship_cpp_test\((\w+)([^)]*)\)", cmake.read_text()):
        libraries = [layer_of_library(n) for n in re.findall(r"recship_\w+", m.group(2))]
        layers[m.group(1)] = top_layer([layer for layer in libraries if layer] or ["format"])
    return layers


def top_layer(layers):
    """The one of `layers` that may use all the others; cli when none may."""
    for layer in layers:
        if all(may_use(layer, other) for other in layers):
            return layer
    return "cli"


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else
                        pathlib.Path(__file__).resolve().parent.parent).resolve()
    errors = []
    for layer in ALLOWED:
        for base in (root / "src" / layer, root / "include" / "recship" / layer):
            for path in sorted(base.rglob("*")):
                if path.suffix in (".h", ".cc", ".in"):
                    check_includes(path, layer, root, errors)
    for name, layer in sorted(test_layers(root).items()):
        path = root / "tests" / "cpp" / f"{name}.cc"
        if path.exists():
            check_includes(path, layer, root, errors)
    check_links(root, errors)
    for error in errors:
        print(error)
    if errors:
        print(f"check_layers: {len(errors)} dependenc{'y' if len(errors) == 1 else 'ies'} "
              "point up the stack (docs/DESIGN.md, Layers)")
        return 1
    print("check_layers: every include and link points down the stack")
    return 0


if __name__ == "__main__":
    sys.exit(main())
