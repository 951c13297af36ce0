from callpipe.runner import BatchAccumulator


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def make(size=3, wait=1.0):
    clock = Clock()
    acc: BatchAccumulator[tuple[tuple[str, int], int]] = BatchAccumulator(
        size, wait, partition_of=lambda item: item[0], clock=clock
    )
    return acc, clock


def test_due_when_full():
    acc, _ = make(size=3)
    assert not acc.due()
    for i in range(3):
        acc.add((("t", 0), i))
    assert acc.due()
    assert acc.room == 0
    assert [i for _, i in acc.take()] == [0, 1, 2]
    assert len(acc) == 0
    assert not acc.due()


def test_due_after_max_wait_counted_from_the_first_message():
    acc, clock = make(size=100, wait=1.0)
    clock.now = 500.0  # idle time before the first message does not count
    acc.add((("t", 0), 1))
    assert acc.seconds_left() == 1.0
    clock.now += 0.6
    acc.add((("t", 0), 2))
    assert not acc.due()
    clock.now += 0.4
    assert acc.due()


def test_empty_batch_is_never_due():
    acc, clock = make(wait=0.001)
    clock.now += 10
    assert acc.seconds_left() is None
    assert not acc.due()


def test_drop_partitions_on_revoke():
    acc, _ = make(size=10)
    acc.add((("t", 0), 1))
    acc.add((("t", 1), 2))
    acc.add((("t", 0), 3))
    assert acc.drop_partitions({("t", 0)}) == 2
    assert [i for _, i in acc.take()] == [2]
