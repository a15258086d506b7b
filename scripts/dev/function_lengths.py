#!/usr/bin/env python3
"""Lists the functions in C++ sources longer than a limit (lines from the opening brace to the
closing one). Namespace, class and struct bodies are looked through; lambdas count toward the
function that holds them. Exits 1 when any function is over the limit.
usage: function_lengths.py [--max N] [--allow NAME ...] FILE..."""
import argparse
import re
import sys

SCOPE = re.compile(r"\b(namespace|class|struct|union|enum)\b")


def strip(text):
    """Comments, strings and character literals blanked, newlines kept."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif text.startswith('R"', i):
            m = re.match(r'R"([^(]*)\(', text[i:])
            end = text.find(")" + m.group(1) + '"', i) + len(m.group(1)) + 2
            out.append('""' + "\n" * text.count("\n", i, end))
            i = end
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(text):
    """(name, first line, line count) of every function body outside other functions."""
    text = strip(text)
    stack, header_start, line, found = [], 0, 1, []
    for i, c in enumerate(text):
        if c == "\n":
            line += 1
        elif c in ";{}" and c != "{":
            if c == "}" and stack:
                kind, name, start = stack.pop()
                if kind == "function":
                    found.append((name, start, line - start + 1))
            header_start = i + 1
        elif c == "{":
            header = text[header_start:i]
            inside_function = any(k != "scope" for k, _, _ in stack)
            if inside_function:
                stack.append(("block", "", line))
            elif SCOPE.search(header) and "(" not in header.split("{")[0].split("=")[0]:
                stack.append(("scope", "", line))
            elif ")" in header and "=" not in header.split("(")[0]:
                m = re.findall(r"([~\w:]+)\s*\(", header)
                stack.append(("function", m[0] if m else "?", line))
            else:
                stack.append(("block", "", line))  # an initializer at namespace scope
            header_start = i + 1
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max", type=int, default=60)
    ap.add_argument("--allow", nargs="*", default=[], help="data tables: names exempt from the limit")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    long = []
    for path in args.files:
        with open(path, encoding="utf-8") as f:
            for name, start, count in functions(f.read()):
                if count > args.max and name.split("::")[-1] not in args.allow:
                    long.append(f"{path}:{start}: {name} is {count} lines (limit {args.max})")
    print("\n".join(long) if long else f"function lengths: all within {args.max} lines")
    return 1 if long else 0


if __name__ == "__main__":
    sys.exit(main())
