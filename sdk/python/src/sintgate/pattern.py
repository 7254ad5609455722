"""Resource patterns (docs/protocol.md §2): matching and exact containment.

``*`` matches any run of characters without ``/``, ``**`` any run; the rest is
literal and case-sensitive. ``contains(parent, child)`` decides whether every
resource the child matches, the parent matches too, as inclusion of the two
patterns' languages (the same product-automaton construction as the
gateway's tokens.Contains), so a delegation checked here is refused or
accepted exactly as the gateway will.
"""

from __future__ import annotations

import re
from collections import deque

__all__ = ["valid_pattern", "normal_resource", "match", "contains", "MAX_RESOURCE_BYTES"]

MAX_RESOURCE_BYTES = 512
_RESOURCE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:/?#[]@!$&'()+,;=%")
_MAX_STATES = 1 << 16
_STAR, _DSTAR = -1, -2


def valid_pattern(p: str) -> str | None:
    """None if p is a valid pattern, else why not."""
    if not isinstance(p, str) or p == "":
        return "empty pattern"
    if len(p.encode()) > MAX_RESOURCE_BYTES:
        return "pattern longer than 512 bytes"
    stars = 0
    for c in p:
        if c == "*":
            stars += 1
            if stars > 2:
                return "pattern has a run of more than two '*'"
            continue
        stars = 0
        if c not in _RESOURCE_CHARS:
            return "pattern has a character outside the resource alphabet"
    return None


_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")
_UNRESERVED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")


def normal_resource(r: str) -> str | None:
    """None if r is a resource in normal form (§2), else why not. The gateway
    answers MALFORMED_REQUEST for any other spelling; it never normalises."""
    if not isinstance(r, str) or r == "":
        return "empty resource"
    if len(r.encode()) > MAX_RESOURCE_BYTES:
        return "resource longer than 512 bytes"
    if any(c not in _RESOURCE_CHARS for c in r):
        return "resource has a character outside the resource alphabet"
    colon = r.find(":")
    if colon < 1:
        return "resource has no scheme"
    if not _SCHEME.match(r[:colon]):
        return "resource scheme is not lowercase [a-z][a-z0-9+.-]*"
    rest = r[colon + 1:]
    if rest.startswith("//"):
        rest = rest[2:]
        slash = rest.find("/")
        if slash < 0:
            if rest == "":
                return "resource has nothing after the scheme's //"
            if rest in (".", ".."):
                return "resource has a dot segment"
        else:
            if rest[:slash] in (".", ".."):
                return "resource has a dot segment"
            for seg in rest[slash + 1:].split("/"):
                if seg == "":
                    return "resource has an empty path segment"
                if seg in (".", ".."):
                    return "resource has a dot segment"
    else:
        if rest == "":
            return "resource has nothing after the scheme"
        if any(seg in (".", "..") for seg in rest.split("/")):
            return "resource has a dot segment"
    i = r.find("%")
    while i >= 0:
        h = r[i + 1:i + 3]
        if len(h) != 2 or any(c not in "0123456789ABCDEF" for c in h):
            return "resource has a '%' not followed by two uppercase hex digits"
        if chr(int(h, 16)) in _UNRESERVED:
            return "resource percent-encodes an unreserved character"
        i = r.find("%", i + 1)
    return None


def _tokenize(p: str) -> list:
    out: list = []
    i = 0
    while i < len(p):
        if p[i] == "*":
            if i + 1 < len(p) and p[i + 1] == "*":
                out.append(_DSTAR)
                i += 2
                continue
            out.append(_STAR)
        else:
            out.append(p[i])
        i += 1
    return out


def match(pattern: str, resource: str) -> bool:
    """Whether resource is matched by pattern (exact, no normalisation)."""
    toks = _tokenize(pattern)
    n = len(resource)
    cur = [False] * (n + 1)
    cur[0] = True
    for t in toks:
        nxt = [False] * (n + 1)
        if t == _STAR:
            nxt[0] = cur[0]
            for j in range(1, n + 1):
                nxt[j] = cur[j] or (nxt[j - 1] and resource[j - 1] != "/")
        elif t == _DSTAR:
            nxt[0] = cur[0]
            for j in range(1, n + 1):
                nxt[j] = cur[j] or nxt[j - 1]
        else:
            for j in range(1, n + 1):
                nxt[j] = cur[j - 1] and resource[j - 1] == t
        cur = nxt
    return cur[n]


def _closure(toks: list, s: set) -> frozenset:
    # A wildcard may match the empty run: position i+1 is reachable too.
    # Positions only grow, so one ascending pass suffices.
    out = set(s)
    for i in range(len(toks)):
        if i in out and toks[i] in (_STAR, _DSTAR):
            out.add(i + 1)
    return frozenset(out)


def _step(toks: list, s: frozenset, x) -> frozenset:
    out = set()
    for i in s:
        if i >= len(toks):
            continue
        t = toks[i]
        if t == _DSTAR:
            out.add(i)
        elif t == _STAR:
            if x != "/":
                out.add(i)
        elif t == x:
            out.add(i + 1)
    return _closure(toks, out)


def contains(parent: str, child: str) -> bool:
    """Whether every resource child matches, parent matches too (exactly).
    Invalid patterns, and a search beyond 65,536 states, answer False: a
    delegation is refused, never widened."""
    if valid_pattern(parent) is not None or valid_pattern(child) is not None:
        return False
    if "*" not in parent:
        return parent == child
    if parent == child:
        return True
    star = parent.find("*")
    if star == len(parent) - 2 and parent[star + 1] == "*":
        i = child.find("*")
        lit = child if i < 0 else child[:i]
        return lit.startswith(parent[:star])
    P, C = _tokenize(parent), _tokenize(child)
    alpha = []
    for toks in (P, C):
        for t in toks:
            if isinstance(t, str) and t not in alpha:
                alpha.append(t)
    if "/" not in alpha:
        alpha.append("/")
    alpha.append(_STAR)  # stands for any character no pattern names
    start = (_closure(C, {0}), _closure(P, {0}))
    seen = {start}
    q = deque([start])
    while q:
        sc, sp = q.popleft()
        if len(C) in sc and len(P) not in sp:
            return False
        for x in alpha:
            nc = _step(C, sc, x)
            if not nc:
                continue
            ns = (nc, _step(P, sp, x))
            if ns in seen:
                continue
            if len(seen) >= _MAX_STATES:
                return False
            seen.add(ns)
            q.append(ns)
    return True
