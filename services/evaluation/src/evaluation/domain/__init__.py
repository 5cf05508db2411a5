"""The evaluation's pure core: what a round freezes (the snapshot), how it is scored (the scheme),
scores with every point explained, rankings and the comparison with the previous round.

Nothing here touches a database, the broker or the clock: the same snapshot and scheme always give
the same result, so a published figure can be reproduced later from what the round stored.
"""
