"""ConsumerThread.step never hands out more than asked, even when a callbacks-only poll delivers."""

from __future__ import annotations

from collections import deque

from confluent_kafka import Message, TopicPartition

from callpipe.runner._consumer import ConsumerThread

A, B = ("in", 0), ("in", 1)


class FakeConsumer:
    """The calls step() makes, over a queue of messages as librdkafka would deliver them."""

    def __init__(self, messages):
        self.queue = deque(messages)
        self.paused: set[tuple[str, int]] = set()

    def assignment(self):
        return [TopicPartition(*A), TopicPartition(*B)]

    def pause(self, tps):
        self.paused |= {(tp.topic, tp.partition) for tp in tps}

    def resume(self, tps):
        self.paused -= {(tp.topic, tp.partition) for tp in tps}

    def _next(self):
        for message in list(self.queue):
            if (message.topic(), message.partition()) not in self.paused:
                self.queue.remove(message)
                return message
        return None

    def poll(self, timeout):
        return self._next()

    def consume(self, num_messages, timeout):
        out: list[object] = []
        while len(out) < num_messages and (message := self._next()) is not None:
            out.append(message)
        return out


def msg(tp, offset):
    return Message(topic=tp[0], partition=tp[1], offset=offset, value=b"v")


def thread(messages):
    ct = ConsumerThread({}, "in", on_assign=lambda k: None, on_revoke=lambda k: None, on_lost=lambda k: None)
    fake = FakeConsumer(messages)
    ct._consumer = fake  # type: ignore[assignment]
    return ct, fake


def offsets(messages):
    return [(m.partition(), m.offset()) for m in messages]


def test_a_callbacks_only_poll_holds_its_message_for_the_next_take_in_order():
    ct, _ = thread([msg(A, 0), msg(A, 1), msg(A, 2)])
    assert ct.step(set(), 0, 0.0) == []  # full: take nothing, but the poll got offset 0
    assert ct.step(set(), 0, 0.0) == []  # and offset 1
    assert offsets(ct.step(set(), 1, 0.0)) == [(0, 0)]  # never more than asked
    assert offsets(ct.step(set(), 5, 0.0)) == [(0, 1), (0, 2)]
    assert ct.step(set(), 5, 0.0) == []


def test_held_messages_of_a_paused_partition_wait_until_it_resumes():
    ct, _ = thread([msg(A, 0), msg(B, 0), msg(B, 1)])
    ct.step(set(), 0, 0.0)  # holds A:0
    assert offsets(ct.step({A}, 5, 0.0)) == [(1, 0), (1, 1)]
    assert offsets(ct.step(set(), 5, 0.0)) == [(0, 0)]


def test_revoked_partitions_lose_their_held_messages():
    ct, fake = thread([msg(A, 0), msg(B, 0)])
    ct.step(set(), 0, 0.0)
    ct.step(set(), 0, 0.0)  # holds A:0 and B:0
    ct._revoked(fake, [TopicPartition(*A)])
    assert offsets(ct.step(set(), 5, 0.0)) == [(1, 0)]
