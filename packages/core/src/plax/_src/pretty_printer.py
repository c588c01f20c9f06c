"""A small pretty-printer (documents of text, breaks, groups and nesting), used for jaxprs.

A group prints flat (each break as its text) when the whole group fits in the remaining width;
otherwise each of its own breaks becomes a newline at the current nesting. Groups inside a broken
group decide for themselves. This is the layout JAX's jaxpr printer uses, so texts match.
"""

from __future__ import annotations


class Doc:
    __slots__ = ()

    def __add__(self, other: "Doc") -> "Doc":
        return Concat((self, other))

    def format(self, width: int = 80) -> str:
        out: list[str] = []
        _Printer(width, out).run(self)
        return "".join(out)

    def __str__(self):
        return self.format()


class Text(Doc):
    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


class Break(Doc):
    __slots__ = ("text",)

    def __init__(self, text: str = " "):
        self.text = text


class Concat(Doc):
    __slots__ = ("children",)

    def __init__(self, children):
        self.children = tuple(children)


class Group(Doc):
    __slots__ = ("child",)

    def __init__(self, child: Doc):
        self.child = child


class Nest(Doc):
    __slots__ = ("n", "child")

    def __init__(self, n: int, child: Doc):
        self.n, self.child = n, child


def text(s: str) -> Doc:
    return Text(s)


def brk(s: str = " ") -> Doc:
    return Break(s)


def concat(docs) -> Doc:
    return Concat(docs)


def group(d: Doc) -> Doc:
    return Group(d)


def nest(n: int, d: Doc) -> Doc:
    return Nest(n, d)


def nil() -> Doc:
    return Concat(())


def join(sep: Doc, docs) -> Doc:
    docs = list(docs)
    if not docs:
        return nil()
    parts = [docs[0]]
    for d in docs[1:]:
        parts += [sep, d]
    return Concat(parts)


class Comment(Text):
    """Text that ends its line (a `# ...` comment): the groups around it never print flat."""

    __slots__ = ()


def comment(s: str) -> Doc:
    return Comment(s)


def _flat_width(d: Doc, limit: int) -> int:
    """Width of `d` printed flat, stopping early once it exceeds `limit`."""
    total = 0
    stack = [d]
    while stack:
        x = stack.pop()
        if type(x) is Comment:
            return limit + 1
        if isinstance(x, (Text, Break)):
            total += len(x.text)
            if total > limit:
                return total
        elif isinstance(x, Concat):
            stack.extend(reversed(x.children))
        else:  # Group, Nest
            stack.append(x.child)
    return total


class _Printer:
    def __init__(self, width: int, out: list[str]):
        self.width, self.out, self.col = width, out, 0

    def run(self, doc: Doc) -> None:
        # work items: (indent, flat, doc)
        stack = [(0, False, doc)]
        while stack:
            indent, flat, d = stack.pop()
            if isinstance(d, Text):
                self.out.append(d.text)
                self.col += len(d.text)
            elif isinstance(d, Break):
                if flat:
                    self.out.append(d.text)
                    self.col += len(d.text)
                else:
                    self.out.append("\n" + " " * indent)
                    self.col = indent
            elif isinstance(d, Concat):
                for c in reversed(d.children):
                    stack.append((indent, flat, c))
            elif isinstance(d, Nest):
                stack.append((indent + d.n, flat, d.child))
            elif isinstance(d, Group):
                if flat:
                    stack.append((indent, True, d.child))
                else:
                    room = self.width - self.col
                    fits = _flat_width(d.child, room) <= room
                    stack.append((indent, fits, d.child))
