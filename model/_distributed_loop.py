"""A distributed worker's level loop, generated from the sequential search's template.

The move enumeration, the renaming test and the fingerprint of a successor are those of
the sequential incremental loop (:mod:`sagaspec.model._loops`, ``_incremental``: the
same text, so a change there reaches the workers); only the edge differs. A worker keeps
the successors it owns; for one another worker owns it records the successor's
fingerprint and where it came from (frontier position and action number), without
building it: the owner is asked "do you have these?" and only the successors it lacks
are built and sent. The fingerprint is the same in every process (the workers' engines
weigh what a part holds and canonicalize by those weights, see ``_StableEngine`` in
:mod:`sagaspec.model.distributed`), so it is what the owner keeps and is asked about.

``source(mode, owner)``: ``mode`` ``"local"`` (one worker: keep every new successor)
or ``"shared"`` (several); ``owner`` ``"whole"`` (by the fingerprint) or ``"part"``
(by the state of one participant, ``P0``: moves of the others keep the parent's owner).
"""

from __future__ import annotations

from sagaspec.model import _loops
from sagaspec.model.engine import FP_MASK, LANE, SHIFT

__all__ = ["compiled", "source"]

_SKELETON = """\
def {name}(shard, frontier, ffps, fvs, depth, expand):
    e = shard.engine
    check = shard.search._check
    n = e.n
    builders = e.builders
    iparts = e.internal_parts
    ddest = e.ddest
    crashes = bool(e.crash_budget)
    rng = range(n)
    mask, shift = MASK, SHIFT
    seen = shard.seen
    seen_get = seen.get
    lvl = depth + 1
    push = shard.next.append
    pushf = shard.nfps.append
{dist}
{setup}
    layered = True
    truncated = False
    edges = 0
    for pos_s, s in enumerate(frontier):
        if not expand:
            quiet = e.is_quiescent(s)
            truncated |= not quiet
            check(depth, s, quiet)
            continue
        bus = s[n]
        dups = s[n + 1]
        a = 0
{prelude}
{body}
        edges += a
        check(depth, s, quiet)
    return edges, truncated, layered
"""

_DIST_SETUP = """\
sent_now, sent_prev = shard.sent_now, shard.sent_prev
me, C = shard.index, shard.count
cs = [x.append for x in shard.cand_fp]
cr = [x.append for x in shard.cand_ref]
P0, OWN = shard.p0, shard.own_tab
pushv = shard.nfvs.append"""

_LOCAL_EDGE = """\
j = seen_get(f)
if j is None:
    seen[f] = lvl
{build}
    pushf(f)
elif j < lvl:
    layered = False
a += 1"""

# ``wk``: the successor's owner. For one another worker owns, its fingerprint is noted
# for the question to the owner, with where the successor came from. The owner claims
# the first offer of a fingerprint and finds the rest in its visited dict (an edge to an
# earlier level is noticed there).
_ASK = """\
else:
    cs[wk](f)
    cr[wk]((pos_s << REF_BITS) | a)"""

# Owners by the whole state: about half the successors cross to another worker, most of
# them reached again at the same level; each is asked once per level (and one asked at
# the previous level is at this depth or less: the edge to it is not layered), or the
# questions would triple. (Owners by one participant, few cross and fewer again: the
# sets cost more than the repeated questions, 1.21x -> 1.06x the CPU of one worker on
# corrected, 2 orders, 1 crash.)
_ASK_ONCE = """\
elif f in sent_now:
    pass
elif f in sent_prev:
    layered = False
else:
    sent_now.add(f)
    cs[wk](f)
    cr[wk]((pos_s << REF_BITS) | a)"""

_DIST_EDGE = """\
j = seen_get(f)
if j is None:
    wk = f % C
    if wk == me:
        seen[f] = lvl
{build}
        pushf(f)
{keep_vector}
{ask}
elif j < lvl:
    layered = False
a += 1"""

# Owners by one participant's state: a successor whose move leaves that participant
# alone is this worker's, and nothing else needs asking about it.
_PART_EDGE = """\
j = seen_get(f)
if j is None:
    wk = me if p != P0 else OWN[{new}]
    if wk == me:
        seen[f] = lvl
{build}
        pushf(f)
{keep_vector}
{ask}
elif j < lvl:
    layered = False
a += 1"""

# With symmetry, the fingerprint vector of a successor kept as it is (not renamed) is
# its parent's plus the move's, when the parent's is known: queued with it, it spares
# the next level computing it (a worker's canonical form renames more often than the
# sequential search's: see _StableEngine). (The settled deliveries set no k.)
_KEEP_VECTOR = "pushv(None if fx is None or k else fx + {vector})"
_KEEP_VECTOR_SETTLED = "pushv(None if fx is None else fx + {vector})"

#: Bits of an action number in a candidate's reference (``position << REF_BITS | action``).
REF_BITS = 24


def _site(build: str) -> tuple[str, str]:
    """(the move's fingerprint vector, the moved participant's new state) of a build
    snippet of the template: internal step, delivery or idle crash."""
    if "mv[2]" in build:
        return "mv[7]", "npid"
    if "builders[p](s, cp," in build:
        return "crash_vector(p, pid, cp)", "cp"
    if "builders[p](s, npid, nb," in build:
        return "dv", "npid"
    raise RuntimeError(f"model/_loops.py changed: unknown successor site {build!r}")


MODES = ("local", "shared")
OWNERS = ("whole", "part")


def source(mode: str, owner: str = "whole") -> str:
    """The loop's source for ``mode`` ``local``/``shared`` and ``owner`` ``whole``/``part``
    (see the module doc)."""
    if mode not in MODES or owner not in OWNERS:
        raise ValueError(f"no distributed loop {mode!r}/{owner!r}")
    ind = _loops._indent
    sites = []

    def edge(build: str) -> str:
        if mode == "local":
            return _LOCAL_EDGE.format(build=ind(build, 4))
        sites.append(build)
        vector, new = _site(build)
        keep = (_KEEP_VECTOR if "if k:" in build else _KEEP_VECTOR_SETTLED).format(vector=vector)
        edge = _PART_EDGE if owner == "part" else _DIST_EDGE
        ask = _ASK if owner == "part" else _ASK_ONCE
        return edge.format(build=ind(build, 8), keep_vector=ind(keep, 8), ask=ind(ask, 4), new=new)

    body = _loops._incremental(edge, "", "")
    prelude = _loops._INC_PRELUDE
    if mode != "local":
        # The settled deliveries' loop names the move's vector _dv (unused there by the
        # sequential loop); the frontier's vectors come with it.
        settled, unknown = "delta, _dv in moves", "fx = None"
        if len(sites) != 4 or settled not in body or unknown not in prelude:
            raise RuntimeError("model/_loops.py changed: the distributed loop's edge sites must be revisited")
        body = body.replace(settled, "delta, dv in moves")
        prelude = prelude.replace(unknown, "fx = fvs[pos_s]", 1)
    name = f"level_{mode}_{owner}"
    return _SKELETON.format(
        name=name,
        dist=ind(_DIST_SETUP if mode != "local" else "", 4),
        setup=ind(_loops._INC_SETUP, 4),
        prelude=ind(prelude, 8),
        body=ind(body, 8),
    )


_compiled: dict[tuple[str, str], object] = {}


def compiled(mode: str, owner: str = "whole"):
    """The level function for ``(mode, owner)``, compiled once:
    ``(shard, frontier, ffps, fvs, depth, expand) -> (edges, truncated, layered)``
    (``fvs``: the frontier's fingerprint vectors, None where unknown; unused by "local")."""
    key = ("local", "whole") if mode == "local" else (mode, owner)
    fn = _compiled.get(key)
    if fn is None:
        env = {"MASK": FP_MASK, "SHIFT": SHIFT, "LANE": LANE, "REF_BITS": REF_BITS}
        name = f"level_{key[0]}_{key[1]}"
        exec(compile(source(*key), f"<sagaspec:{name}>", "exec"), env)  # noqa: S102 - a fixed template
        fn = _compiled[key] = env[name]
    return fn
