import numpy as np

from service.topics.track import match


def unit(*rows):
    x = np.array(rows, dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_continued_grown_new_gone():
    old_members = [set(range(0, 10)), set(range(10, 20)), set(range(20, 30))]
    new_members = [set(range(0, 10)), set(range(10, 30)) - set(range(20, 30)) | set(range(40, 50)),
                   set(range(60, 70))]
    lineage = match([7, 8, 9], old_members, unit([1, 0, 0], [0, 1, 0], [0, 0, 1]), [10, 10, 10],
                    new_members, unit([1, 0, 0], [0, 1, 0], [0.5, 0.5, 0.7]))
    assert lineage.ids == [7, 8, None]
    assert [e["event"] for e in lineage.new_events] == ["continued", "grown", "new"]
    assert lineage.events == [{"topic_id": 9, "event": "gone", "related": [], "size_before": 10,
                               "size_after": 0}]


def test_merge_and_split():
    # old 1 and 2 merge into one new cluster; old 3 splits in two
    old = [set(range(0, 10)), set(range(10, 14)), set(range(20, 40))]
    new = [set(range(0, 14)), set(range(20, 30)), set(range(30, 40))]
    c = unit([1, 0, 0], [0.9, 0.1, 0], [0, 0, 1])
    lineage = match([1, 2, 3], old, c, [10, 4, 20], new, unit([1, 0, 0], [0, 0.1, 1], [0, 0, 1]))
    assert lineage.ids[0] == 1 and lineage.events[0]["event"] == "merged"
    assert lineage.events[0]["related"] == [1]
    assert sorted([lineage.ids[1], lineage.ids[2]], key=str) == [3, None]
    split = [e for e in lineage.new_events if e["event"] == "split"]
    assert split and split[0]["related"] == [3]


def test_nothing_old():
    lineage = match([], [], np.zeros((0, 3), np.float32), [], [{1, 2}], unit([1, 0, 0]))
    assert lineage.ids == [None] and lineage.new_events[0]["event"] == "new"
