from callpipe.runner import OffsetTracker, PartitionOffsets


def test_out_of_order_completion_commits_only_the_contiguous_prefix():
    offsets = PartitionOffsets()
    for o in (10, 11, 12, 13):
        assert offsets.add(o)
    offsets.finish(12)
    offsets.finish(13)
    assert offsets.commit_position is None  # 10 and 11 still running: nothing may be committed
    offsets.finish(10)
    assert offsets.commit_position == 11  # next to read after 10; 11 still running
    offsets.finish(11)
    assert offsets.commit_position == 14
    assert offsets.outstanding == 0


def test_gaps_in_offset_numbers_are_contiguous_in_receive_order():
    offsets = PartitionOffsets()
    for o in (5, 9, 20):  # compaction / transaction markers leave holes
        offsets.add(o)
    offsets.finish(5)
    offsets.finish(9)
    assert offsets.commit_position == 10
    offsets.finish(20)
    assert offsets.commit_position == 21


def test_redelivered_offset_is_not_tracked_twice():
    offsets = PartitionOffsets()
    assert offsets.add(1)
    assert not offsets.add(1)
    assert not offsets.add(0)
    offsets.finish(1)
    assert offsets.commit_position == 2


def test_tracker_reports_only_moved_positions_and_fresh_trackers_on_assign():
    tracker = OffsetTracker()
    a = tracker.assign(("t", 0))
    b = tracker.assign(("t", 1))
    a.add(0)
    b.add(0)
    a.finish(0)
    assert tracker.to_commit() == {("t", 0): 1}
    tracker.mark_committed({("t", 0): 1})
    assert tracker.to_commit() == {}
    # Revoke and re-assign: late completion of work from the old assignment cannot move the new one.
    tracker.revoke(("t", 1))
    fresh = tracker.assign(("t", 1))
    b.finish(0)
    assert fresh.commit_position is None
    assert tracker.to_commit() == {}
