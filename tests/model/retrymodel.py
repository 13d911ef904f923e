"""A retry loop per saga (a cycle in the state graph), shared by the model tests that need
a graph with a back edge."""

from __future__ import annotations

from sagaspec.model import Outcome, Participant


class Retry(Participant):
    """Per saga: idle -> trying -> failed -> trying ... (a retry loop: a cycle), maybe -> done."""

    name = "retry"

    def __init__(self, can_succeed):
        self.can_succeed = can_succeed

    def init(self):
        return (0, 0)

    def internal(self, s):
        steps = {0: [("try", 1)], 1: [("fail", 2)], 2: [("retry", 1)]}
        if self.can_succeed:
            steps[1].append(("succeed", 3))
        return tuple(
            Outcome(f"{label}-{i}", s[:i] + (nxt,) + s[i + 1 :])
            for i, v in enumerate(s) for label, nxt in steps.get(v, ())
        )

    def permute(self, s, perm):
        out = [0, 0]
        for i, v in enumerate(s):
            out[perm[i]] = v
        return tuple(out)
