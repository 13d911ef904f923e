"""A distributed worker's level loop, generated from the sequential search's template.

The move enumeration, the renaming test and the fingerprint of a successor are those of
the sequential incremental loop (:mod:`sagaspec.model._loops`, ``_incremental``: the
same text, so a change there reaches the workers); only the edge differs. A worker keeps
the successors it owns, and for one another worker owns it records the successor's
*stable fingerprint* (the same in every process, see ``_Shard`` in
:mod:`sagaspec.model.distributed`) and where it came from (frontier position and
action number), without building it: the owner is asked "do you have these?" and only
the successors it lacks are built and sent.

``source(mode, owner)``: ``mode`` ``"local"`` (one worker: keep every new successor),
``"plain"`` (stable fingerprint = the fingerprint, no symmetry) or ``"lanes"``
(symmetry with fingerprint vectors: the least fingerprint over the renamings);
``owner`` ``"whole"`` (by the stable fingerprint) or ``"part"`` (by the state of one
participant, ``P0``: moves of the others keep the parent's owner).
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
me, C, K, M64 = shard.index, shard.count, MULT, M64BITS
cs = [x.append for x in shard.cand_sig]
cr = [x.append for x in shard.cand_ref]
sig = shard.sig
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

# ``sg``: the successor's stable fingerprint; ``wk``: its owner. A successor asked for
# at this level or the previous one is not asked again (one asked at the previous level
# is at this depth or less: the edge to it is not layered).
_DIST_EDGE = """\
j = seen_get(f)
if j is None:
    if f in sent_now:
        pass
    elif f in sent_prev:
        layered = False
    else:
{sigma}
{owner}
        if wk == me:
            seen[f] = lvl
            sig[sg] = lvl
{build}
            pushf(f)
{keep_vector}
        else:
            sent_now.add(f)
            cs[wk](sg)
            cr[wk]((pos_s << REF_BITS) | a)
elif j < lvl:
    layered = False
a += 1"""

# Owners by one participant's state: a successor whose move leaves that participant
# alone is this worker's, and nothing else needs asking about it.
_PART_EDGE = """\
j = seen_get(f)
if j is None:
    if p != P0 or OWN[{new}] == me:
{sigma}
        seen[f] = lvl
        sig[sg] = lvl
{build}
        pushf(f)
{keep_vector}
    elif f in sent_now:
        pass
    elif f in sent_prev:
        layered = False
    else:
{sigma}
        sent_now.add(f)
        cs[OWN[{new}]](sg)
        cr[OWN[{new}]]((pos_s << REF_BITS) | a)
elif j < lvl:
    layered = False
a += 1"""

_SIGMA = {
    "plain": "sg = f",
    "lanes": "if fx is None:\n    fx = fvec(s)\ny = fx + {vector}\nsg = {least}",
}
# The fingerprint vector of a successor kept as it is (not renamed) is ``y``: queued with
# it, it spares the next level computing it (a renamed one's is computed when needed).
_KEEP_VECTOR = {"plain": "pushv(None)", "lanes": "pushv(None if k else y)"}

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


def source(mode: str, owner: str = "whole", lanes: int = 1) -> str:
    """The loop's source for ``mode`` ``local``/``plain``/``lanes`` and ``owner``
    ``whole``/``part`` (see the module doc); ``lanes``: the renamings of the sagas."""
    ind = _loops._indent
    sites = []

    def edge(build: str) -> str:
        if mode == "local":
            return _LOCAL_EDGE.format(build=ind(build, 4))
        vector, new = _site(build)
        sites.append(new)
        # The least lane, inline (a call costs as much as the rest of the edge).
        least = "min(" + ", ".join(f"(y >> {LANE * k}) & mask" if k else "y & mask" for k in range(lanes)) + ")"
        sigma = _SIGMA[mode].format(vector=vector, least=least if lanes > 1 else "y & mask")
        # (The settled deliveries build no renaming and set no k.)
        keep = _KEEP_VECTOR[mode] if "if k:" in build else _KEEP_VECTOR[mode].replace("None if k else ", "")
        if owner == "part":
            return _PART_EDGE.format(sigma=ind(sigma, 8), build=ind(build, 8), keep_vector=ind(keep, 8), new=new)
        return _DIST_EDGE.format(
            sigma=ind(sigma, 8), owner=ind("wk = sg % C", 8), build=ind(build, 12),
            keep_vector=ind(keep, 12),
        )

    body = _loops._incremental(edge, "", "")
    if mode != "local":
        # The settled deliveries' loop names the move's vector _dv (unused there by the
        # sequential loop); the stable fingerprint needs it.
        settled = "delta, _dv in moves"
        if settled not in body or len(sites) != 4:
            raise RuntimeError("model/_loops.py changed: the distributed loop's edge sites must be revisited")
        body = body.replace(settled, "delta, dv in moves")
    prelude = _loops._INC_PRELUDE
    if mode == "lanes":
        unknown = "fx = None"
        if unknown not in prelude:
            raise RuntimeError("model/_loops.py changed: the distributed loop's prelude must be revisited")
        prelude = prelude.replace(unknown, "fx = fvs[pos_s]", 1)
    name = f"level_{mode}_{owner}_{lanes}"
    return _SKELETON.format(
        name=name,
        dist=ind(_DIST_SETUP if mode != "local" else "", 4),
        setup=ind(_loops._INC_SETUP, 4),
        prelude=ind(prelude, 8),
        body=ind(body, 8),
    )


_compiled: dict[tuple[str, str, int], object] = {}


def compiled(mode: str, owner: str = "whole", lanes: int = 1):
    """The level function for ``(mode, owner, lanes)``, compiled once:
    ``(shard, frontier, ffps, fvs, depth, expand) -> (edges, truncated, layered)``
    (``fvs``: the frontier's fingerprint vectors, or None where unknown)."""
    key = ("local", "whole", 1) if mode == "local" else (mode, owner, lanes if mode == "lanes" else 1)
    fn = _compiled.get(key)
    if fn is None:

        env = {"MASK": FP_MASK, "SHIFT": SHIFT, "LANE": LANE, "MULT": 0x9E3779B97F4A7C15,
               "M64BITS": (1 << 64) - 1, "REF_BITS": REF_BITS}
        name = f"level_{key[0]}_{key[1]}_{key[2]}"
        exec(compile(source(*key), f"<sagaspec:{name}>", "exec"), env)  # noqa: S102 - a fixed template
        fn = _compiled[key] = env[name]
    return fn
