#!/usr/bin/env python3
"""Checks a Python app against the library's generated Python bindings, without installing anything.

The Python packages (aws-cdk-lib, jsii) are not on this machine, so the app cannot run here. What can be
checked offline is what goes wrong first when an example drifts from the API: every name it imports from
`cdk_github_runner_fleet` must exist in the bindings, every method it calls on them must exist, and every
keyword argument it passes must be a parameter of that constructor or method (jsii turns camelCase props
into snake_case keyword arguments).

Usage: check_python_example.py <bindings __init__.py> <app.py | translated.md> [...]

A `.md` file is a page translated to Python by `jsii-rosetta markdown --language python`: each of its
code blocks without a language tag (the translated TypeScript snippets) must parse, and is checked with
every class of the bindings taken as imported (translated snippets carry no import lines).
Exits 1, listing every problem with its line, when an app does not match the bindings. Before checking
the apps it checks a deliberately wrong snippet, so that a checker which finds nothing fails too.
"""
import ast
import sys

MODULE = "cdk_github_runner_fleet"

SELF_TEST = """
from cdk_github_runner_fleet import GitHubRunnerFleet, NoSuchThing
GitHubRunnerFleet(None, "F", vpc=None, labels=[], not_a_prop=1)
GitHubRunnerFleet.not_a_method()
"""


def signatures(bindings_source):
    """Class name -> {method name -> set of parameter names} of the generated bindings."""
    classes = {}
    for node in ast.parse(bindings_source).body:
        if isinstance(node, ast.ClassDef):
            methods = {}
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    args = item.args
                    names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
                    methods[item.name] = set(names) - {"self", "cls"}
            classes[node.name] = methods
    return classes


def translated_blocks(markdown):
    """The code blocks of a translated page that have no language tag, with their first line numbers."""
    blocks, current, start = [], None, 0
    for number, line in enumerate(markdown.splitlines(), 1):
        if line.startswith("```"):
            if current is None:
                current, start = ([] if line.strip() == "```" else False), number + 1
            else:
                if current is not False:
                    blocks.append((start, "\n".join(current)))
                current = None
        elif current:
            current.append(line)
        elif current == []:
            current.append(line)
    return blocks


def problems_of(app_source, classes, filename, implicit=False):
    try:
        tree = ast.parse(app_source, filename)
    except SyntaxError as error:
        return [f"{filename}:{error.lineno}: not valid Python: {error.msg}"]
    imported = {name: name for name in classes} if implicit else {}
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == MODULE:
            for alias in node.names:
                if alias.name not in classes:
                    problems.append(f"{filename}:{node.lineno}: {MODULE} has no {alias.name}")
                else:
                    imported[alias.asname or alias.name] = alias.name
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in imported:
            cls, method = imported[func.id], "__init__"
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in imported:
            cls, method = imported[func.value.id], func.attr
        else:
            continue
        params = classes[cls].get(method)
        if params is None:
            if method != "__init__" or classes[cls]:
                problems.append(f"{filename}:{node.lineno}: {cls} has no method {method}")
            continue
        for keyword in node.keywords:
            if keyword.arg is not None and keyword.arg not in params:
                problems.append(f"{filename}:{node.lineno}: {cls}.{method} takes no keyword argument {keyword.arg}")
    return problems


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[-4], file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        classes = signatures(f.read())
    if "GitHubRunnerFleet" not in classes:
        print(f"check_python_example: {argv[1]} does not look like the bindings (no GitHubRunnerFleet)", file=sys.stderr)
        return 1
    expected = problems_of(SELF_TEST, classes, "<self-test>")
    if len(expected) != 3:
        print(f"check_python_example: the self-test found {len(expected)} of 3 problems: {expected}", file=sys.stderr)
        return 1
    problems = []
    snippets = 0
    for path in argv[2:]:
        with open(path, encoding="utf-8") as f:
            source = f.read()
        if path.endswith(".md"):
            for start, block in translated_blocks(source):
                snippets += 1
                for problem in problems_of(block, classes, f"{path} (block at line {start})", implicit=True):
                    problems.append(problem)
            continue
        compile(source, path, "exec")
        problems.extend(problems_of(source, classes, path))
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"check_python_example: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"check_python_example: {len(argv) - 2} file(s) ({snippets} translated snippets) match the Python bindings")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
