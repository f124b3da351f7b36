#!/usr/bin/env python3
"""Import cycles between the files of src/: which files import each other, directly or around
a circle.

    scripts/import-cycles.py [--src src] [--with-tests] [--all] [--max N]

The graph: one node per file (src/a/b.rs and src/a/b/mod.rs are module a::b), an edge from a
file to every file whose items it names: `use crate::…`, `use super::…`, `use self::…`, a
child module's name (`use child::…` or `child::f()` in a mod.rs), and the same paths written
inline in code (`crate::report::get::text(...)`). A path resolves to the longest prefix that is
a module file, so `crate::analysis::Analysis` (re-exported by analysis/mod.rs) points at
analysis/mod.rs. Declaring a child (`mod child;`) is not an import. `#[cfg(test)]` modules,
inline or in their own file, are left out unless --with-tests.

Prints each group of files that reach one another (a strongly connected component: every file
in it is on a cycle with every other), the pairs that import each other directly, one shortest
cycle through each file, then the counts: groups, files in them, and elementary cycles (each
closed path visiting a file at most once; enumerated up to --max, default 100000). With --all
every elementary cycle is printed. Exit status 0 whatever it finds, or with --check 1 when
there is a cycle: tests/architecture.rs runs it that way, so a change that adds a cycle fails
the tests.
"""

import argparse
import os
import re
import sys
from collections import deque

USE_RE = re.compile(r"(\bpub(?:\([^)]*\))?\s+)?\buse\s+([^;]+);", re.S)
INLINE_RE = re.compile(r"\b((?:crate|super|self|wsload)(?:::\w+)+)")
MOD_DECL_RE = re.compile(r"^\s*(#\[cfg\(test\)\]\s*)?(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", re.M)
CFG_TEST_BLOCK_RE = re.compile(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{")


def strip_comments_and_strings(text):
    """Blank out comments, string and char literals (keeping newlines), so paths in doc
    comments and messages are not taken for imports."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'r(#*)"', text[i:])
            close = '"' + m.group(1)
            j = text.find(close, i + len(m.group(0)))
            j = n if j < 0 else j + len(close)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "'":
            # A char literal ('a', '\n', '\u{1F600}'), not a lifetime ('a, 'static).
            m = re.match(r"'(?:\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'", text[i:])
            if m:
                out.append(" " * len(m.group(0)))
                i += len(m.group(0))
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def remove_test_blocks(code):
    """Drop `#[cfg(test)] mod name { ... }` blocks (braces counted; code is comment- and
    string-free already)."""
    while True:
        m = CFG_TEST_BLOCK_RE.search(code)
        if not m:
            return code
        depth, j = 1, m.end()
        while j < len(code) and depth:
            depth += {"{": 1, "}": -1}.get(code[j], 0)
            j += 1
        code = code[:m.start()] + "\n" * code.count("\n", m.start(), j) + code[j:]


def expand_use_tree(tree):
    """`a::{b, c::{d, e as f}, self}` → ['a::b', 'a::c::d', 'a::c::e', 'a']."""
    tree = re.sub(r"\s+as\s+\w+", "", tree)  # renames do not change what is imported
    tree = re.sub(r"\s+", "", tree)
    out = []

    def parse(i, prefix):
        cur = ""
        while i < len(tree):
            ch = tree[i]
            if ch == "{":
                i = parse(i + 1, prefix + cur)
                cur = ""
            elif ch in ",}":
                if cur:
                    out.append(prefix + cur)
                cur = ""
                i += 1
                if ch == "}":
                    return i
            else:
                cur += ch
                i += 1
        if cur:
            out.append(prefix + cur)
        return i

    parse(0, "")
    return [re.sub(r"::self$", "", p).rstrip(":") for p in out]


def module_files(src):
    """{module path tuple: file path} for every .rs file under src (lib's tree)."""
    mods = {}
    for root, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            path = os.path.join(root, f)
            rel = os.path.relpath(path, src)[:-3].split(os.sep)
            if rel == ["lib"]:
                key = ()
            elif rel == ["main"]:
                key = ("<main>",)
            elif rel[-1] == "mod":
                key = tuple(rel[:-1])
            else:
                key = tuple(rel)
            mods[key] = path
    return mods


def test_only_modules(mods, texts):
    """Module paths declared `#[cfg(test)] mod x;` (their files are tests)."""
    out = set()
    for key, path in mods.items():
        base = () if key == ("<main>",) else key
        for m in MOD_DECL_RE.finditer(texts[path]):
            if m.group(1):
                out.add(base + (m.group(2),))
    return out


PUB_USE_RE = re.compile(r"\bpub(?:\([^)]*\))?\s+use\s+([^;]+);", re.S)
DEFINES_RE = re.compile(r"\b(?:fn|struct|enum|trait|type|const|static|mod|union)\s+(\w+)")


class Crate:
    """The module files, and what each re-exports (`pub use`), so that a path through a
    re-export (`crate::analysis::Analysis`) resolves to the file that defines the item."""

    def __init__(self, src, with_tests):
        self.mods = module_files(src)
        texts = {p: open(p, encoding="utf-8").read() for p in self.mods.values()}
        self.tests = set() if with_tests else test_only_modules(self.mods, texts)
        self.code, self.reexports, self.globs, self.defines = {}, {}, {}, {}
        for key, path in self.mods.items():
            code = strip_comments_and_strings(texts[path])
            if not with_tests:
                code = remove_test_blocks(code)
            self.code[key] = code
            named, globs = {}, []
            for m in PUB_USE_RE.finditer(code):
                for full in expand_use_tree(m.group(1)):
                    last = full.split("::")[-1]
                    if last == "*":
                        globs.append(full[: -len("::*")])
                    else:
                        named[last] = full
            # `pub use x as y`: the item is known by its new name.
            for m in re.finditer(r"\bpub(?:\([^)]*\))?\s+use\s+([\w:]+)\s+as\s+(\w+)\s*;", code):
                named[m.group(2)] = m.group(1)
            self.reexports[key], self.globs[key] = named, globs
            self.defines[key] = set(DEFINES_RE.findall(code))

    def is_test(self, key):
        return any(key[: len(t)] == t for t in self.tests)

    def resolve(self, path, here, depth=0):
        """The module file a path names, from module `here` (a tuple); None if outside the crate."""
        parts = [p for p in path.split("::") if p]
        own = [] if here == ("<main>",) else list(here)
        if not parts or parts == ["*"]:
            return None
        if parts[0] in ("crate", "wsload"):
            base, parts = [], parts[1:]
        elif parts[0] in ("super", "self"):
            base = own
            while parts and parts[0] in ("super", "self"):
                if parts[0] == "super":
                    base = base[:-1]
                parts = parts[1:]
        elif here != ("<main>",) and tuple(own + parts[:1]) in self.mods:
            base = own  # a child module of `here`, named relatively (2018 edition)
        else:
            return None  # std, a dependency, or a local item
        for k in range(len(parts), -1, -1):
            key = tuple(base + parts[:k])
            if key not in self.mods:
                continue
            rest = parts[k:]
            if rest and depth < 8 and rest[0] not in self.defines[key]:
                # Through a re-export: the file that defines the item.
                if rest[0] in self.reexports[key]:
                    via = self.resolve(self.reexports[key][rest[0]], key, depth + 1)
                    if via is not None:
                        return via
                for g in self.globs[key]:
                    target = self.resolve(g, key, depth + 1)
                    if target is not None and rest[0] in self.defines[target]:
                        return target
            return key
        return None


def build_graph(crate):
    graph = {}
    for key, code in crate.code.items():
        if crate.is_test(key):
            continue
        children = {m.group(2) for m in MOD_DECL_RE.finditer(code)}
        paths = []
        for m in USE_RE.finditer(code):
            # A re-export (`pub use`) alone is not a use: a path that goes through it counts,
            # for the file that defines the item.
            if m.group(1):
                continue
            paths.extend(expand_use_tree(m.group(2)))
        paths.extend(m.group(1) for m in INLINE_RE.finditer(code))
        for child in children:
            paths.extend(m.group(0) for m in re.finditer(r"(?<![:\w])" + child + r"(?:::\w+)+", code))
        edges = set()
        for p in paths:
            target = crate.resolve(p, key)
            if target is not None and target != key and not crate.is_test(target):
                edges.add(target)
        graph[key] = edges
    return graph


def tarjan(graph):
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [c for c in out if len(c) > 1]


def shortest_cycle_through(graph, v, allowed):
    """BFS from v's successors back to v, inside `allowed`."""
    prev = {v: None}
    q = deque([v])
    while q:
        u = q.popleft()
        for w in sorted(graph[u]):
            if w not in allowed:
                continue
            if w == v:
                path = [u]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return list(reversed(path)) + [v]
            if w not in prev:
                prev[w] = u
                q.append(w)
    return None


def elementary_cycles(graph, comp, limit):
    """Johnson's algorithm restricted to one component; stops after `limit` cycles."""
    nodes = sorted(comp)
    found = []
    for i, s in enumerate(nodes):
        sub = set(nodes[i:])
        blocked, bmap, path = set(), {n: set() for n in sub}, [s]

        def unblock(u):
            stack = [u]
            while stack:
                x = stack.pop()
                if x in blocked:
                    blocked.discard(x)
                    stack.extend(bmap[x])
                    bmap[x].clear()

        def circuit(v):
            closed = False
            blocked.add(v)
            for w in sorted(graph[v] & sub):
                if len(found) >= limit:
                    return True
                if w == s:
                    found.append(path + [s])
                    closed = True
                elif w not in blocked:
                    path.append(w)
                    if circuit(w):
                        closed = True
                    path.pop()
            if closed:
                unblock(v)
            else:
                for w in graph[v] & sub:
                    bmap[w].add(v)
            return closed

        circuit(s)
        if len(found) >= limit:
            break
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
    ap.add_argument("--with-tests", action="store_true", help="count #[cfg(test)] modules too")
    ap.add_argument("--all", action="store_true", help="print every elementary cycle")
    ap.add_argument("--max", type=int, default=100000, help="stop counting cycles here")
    ap.add_argument("--check", action="store_true", help="exit 1 when there is any cycle (tests/architecture.rs)")
    a = ap.parse_args()
    src = os.path.normpath(a.src)
    crate = Crate(src, a.with_tests)
    graph = build_graph(crate)
    mods = crate.mods

    def name(k):
        return os.path.relpath(mods[k], os.path.dirname(src))

    comps = sorted(tarjan(graph), key=lambda c: (-len(c), sorted(name(k) for k in c)))
    total_cycles, capped = 0, False
    for n, comp in enumerate(comps, 1):
        comp_set = set(comp)
        print(f"cycle group {n}: {len(comp)} files")
        for k in sorted(comp, key=name):
            print(f"  {name(k)}")
        pairs = sorted({tuple(sorted((name(u), name(v)))) for u in comp for v in graph[u] & comp_set if u in graph[v]})
        if pairs:
            print("  import each other:")
            for x, y in pairs:
                print(f"    {x} <-> {y}")
        print("  shortest cycle through each file:")
        seen = set()
        for k in sorted(comp, key=name):
            c = shortest_cycle_through(graph, k, comp_set)
            text = " -> ".join(name(x) for x in c)
            if text not in seen:
                seen.add(text)
                print(f"    {text}")
        cycles = elementary_cycles(graph, comp_set, a.max - total_cycles)
        total_cycles += len(cycles)
        capped = capped or total_cycles >= a.max
        if a.all:
            print("  every elementary cycle:")
            for c in cycles:
                print("    " + " -> ".join(name(x) for x in c))
        print(f"  elementary cycles: {len(cycles)}{'+' if total_cycles >= a.max else ''}")
        print()
    files = sum(len(c) for c in comps)
    edges = sum(len(v) for v in graph.values())
    print(f"{len(graph)} files, {edges} imports; {len(comps)} cycle group(s) holding {files} file(s); "
          f"{total_cycles}{'+' if capped else ''} elementary cycle(s)")
    return 1 if a.check and comps else 0


if __name__ == "__main__":
    sys.exit(main())
