#!/usr/bin/env python3
"""
Fails when two modules of src/ include each other's header. A module is src/NAME.c
with include/NAME.h; a module includes what its .c or .h file includes, directly or
through the headers those include. Each pair found is printed with both chains.
Usage: check_includes.py [SOURCE_DIR]
"""
import pathlib
import re
import sys

INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([^"/]+)\.h"', re.M)


def main():
    top = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parents[1])
    files = {}
    for path in sorted(top.glob("src/*.c")) + sorted(top.glob("include/*.h")):
        files.setdefault(path.stem, []).append(path)
    if not files:
        print(f"no src/*.c under {top}")
        return 1
    headers = {name: top / "include" / f"{name}.h" for name in files}
    direct = {path: [h for h in INCLUDE.findall(path.read_text()) if h in files]
              for paths in files.values() for path in paths}

    def chains(path):
        """Every module header path includes -> the chain of files that brings it in."""
        found, todo = {}, [(h, [path]) for h in direct[path]]
        while todo:
            name, chain = todo.pop(0)
            if name in found:
                continue
            found[name] = chain
            if headers[name].exists():
                todo += [(h, chain + [headers[name]]) for h in direct[headers[name]]]
        return found

    includes = {}
    for name, paths in files.items():
        includes[name] = {}
        for path in paths:
            for dep, chain in chains(path).items():
                if dep != name and dep not in includes[name]:
                    includes[name][dep] = chain

    def show(chain, dep):
        return " -> ".join(str(p.relative_to(top)) for p in chain) + f" -> {dep}.h"

    cycles = 0
    for a in sorted(files):
        for b in sorted(includes[a]):
            if a < b and a in includes[b]:
                cycles += 1
                print(f"include cycle: {a} <-> {b}")
                print(f"  {show(includes[a][b], b)}")
                print(f"  {show(includes[b][a], a)}")
    if cycles:
        print(f"{cycles} pairs of src/ modules include each other's header")
        return 1
    print(f"no include cycle among the {len(files)} modules of src/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
