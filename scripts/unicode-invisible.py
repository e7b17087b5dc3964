#!/usr/bin/env python3
"""Print the range table of src/text/invisible.rs from the Unicode Character Database.

The characters a terminal draws as nothing or as a plain space: general categories Cf (format),
Zl (line separator), Zp (paragraph separator), Zs (space separator) except U+0020 SPACE, and the
Hangul fillers (U+115F, U+1160, U+3164, U+FFA0, category Lo but drawn blank).

Usage: scripts/unicode-invisible.py [DerivedGeneralCategory.txt] > table.rs.txt
The default file is Debian's `unicode-data` package (/usr/share/unicode/extracted/); the same file
is published as https://www.unicode.org/Public/<version>/ucd/extracted/DerivedGeneralCategory.txt.
Paste the output over the table in src/text/invisible.rs and update its UNICODE_VERSION.
"""
import re
import sys

HANGUL_FILLERS = [0x115F, 0x1160, 0x3164, 0xFFA0]
CATEGORIES = {"Cf", "Zl", "Zp", "Zs"}

path = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/unicode/extracted/DerivedGeneralCategory.txt"
version = None
ranges = []
with open(path, encoding="utf-8") as f:
    for line in f:
        m = re.match(r"# DerivedGeneralCategory-(\d+\.\d+\.\d+)\.txt", line)
        if m:
            version = m.group(1)
        data = line.split("#", 1)[0].strip()
        if not data:
            continue
        cps, cat = (x.strip() for x in data.split(";"))
        if cat not in CATEGORIES:
            continue
        lo, _, hi = cps.partition("..")
        lo, hi = int(lo, 16), int(hi or lo, 16)
        if (lo, hi) == (0x20, 0x20):
            continue
        assert not lo <= 0x20 <= hi, "U+0020 inside a range"
        ranges.append((lo, hi))
ranges += [(c, c) for c in HANGUL_FILLERS]
ranges.sort()
merged = []
for lo, hi in ranges:
    if merged and lo <= merged[-1][1] + 1:
        merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
    else:
        merged.append((lo, hi))
print(f"// Unicode {version}: {len(merged)} ranges")
for lo, hi in merged:
    print(f"    ('\\u{{{lo:x}}}', '\\u{{{hi:x}}}'),")
