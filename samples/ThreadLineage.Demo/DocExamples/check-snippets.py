#!/usr/bin/env python3
"""Checks that every multi-line C# block of README.md and docs/*.md is, verbatim (indentation aside), a
`#region doc: <file> › <section>` of a source file under samples/ or tests/, and that every such region is still
used by a doc. The regions live in samples/ThreadLineage.Demo/DocExamples/*.cs, where the build compiles them and
`dotnet run --project samples/ThreadLineage.Demo -- --doc-examples` runs them; in tests/**/*.cs, where `dotnet test`
compiles and runs them (for examples that need a test-only package, such as the OpenTelemetry exporter, or a host);
or in another sample's own code (the web demo's middleware), which the build compiles and that sample's tests run.
Leading `using` lines of a doc block are checked against the usings of the file that holds the region.

Run from anywhere: python3 samples/ThreadLineage.Demo/DocExamples/check-snippets.py (exit code 1 on drift).
"""
import glob
import os
import re
import sys
import textwrap

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.normpath(os.path.join(here, "..", "..", ".."))


def dedent(lines):
    return textwrap.dedent("\n".join(line.rstrip() for line in lines)).strip("\n")


regions = {}  # name -> (code, usings of its file, where it is)
problems = []
source_files = sorted(
    path
    for folder in ("samples", "tests")
    for path in glob.glob(os.path.join(root, folder, "**", "*.cs"), recursive=True)
    if not {"bin", "obj"} & set(os.path.relpath(path, root).split(os.sep))  # build output, not sources
)
for path in source_files:
    lines = open(path, encoding="utf-8").read().splitlines()
    usings = {line.strip() for line in lines if re.match(r"^using [\w.]+;$", line.strip())}
    usings.add("using ThreadLineage;")  # the examples and the tests live in namespaces under ThreadLineage
    start = None
    for i, line in enumerate(lines):
        match = re.match(r"^\s*#region doc: (.+)$", line)
        if match:
            start, name = i + 1, match.group(1).strip()
        elif start is not None and re.match(r"^\s*#endregion", line):
            where = f"{os.path.relpath(path, root)}:{start}"
            if name in regions:
                problems.append(f"{where}: region '{name}' is also defined at {regions[name][2]}")
            regions[name] = (dedent(lines[start:i]), usings, where)
            start = None

used = set()
for doc in [os.path.join(root, "README.md")] + sorted(glob.glob(os.path.join(root, "docs", "*.md"))):
    text = open(doc, encoding="utf-8").read()
    for block in re.findall(r"```csharp\n(.*?)```", text, flags=re.S):
        lines = block.rstrip("\n").split("\n")
        usings = []
        while lines and (re.match(r"^using [\w.]+;$", lines[0].strip()) or not lines[0].strip()):
            if lines[0].strip():
                usings.append(lines[0].strip())
            lines.pop(0)
        code = dedent(lines)
        if code.count("\n") == 0:
            continue  # one-liners need no example file
        matches = [name for name, (region, _, _) in regions.items() if region == code]
        if not matches:
            first = code.splitlines()[0]
            problems.append(f"{os.path.relpath(doc, root)}: no #region doc: in samples/ or tests/ matches the block starting '{first}'")
            continue
        used.update(matches)
        for name in matches:
            missing = [u for u in usings if u not in regions[name][1]]
            if missing:
                problems.append(f"{os.path.relpath(doc, root)}: region '{name}' lacks {', '.join(missing)}")

for name in sorted(set(regions) - used):
    problems.append(f"{regions[name][2]}: region '{name}' is not used by any doc")

for problem in problems:
    print(problem)
print(f"{len(regions)} example regions, {len(used)} used, {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
