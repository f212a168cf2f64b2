"""The relay's and the consumers' producers send each keyed record to the partition Kafka's own choice gives it
(dipflow.kafka.partitioner): the same as aiokafka's default, which other clients (and the consumers' rule that
same-numbered partitions hold the same people) rely on, with the hashes of recent keys remembered."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from dipflow.kafka.partitioner import REMEMBERED_KEYS, RememberingPartitioner


@given(st.lists(st.binary(max_size=40), min_size=1, max_size=50), st.integers(1, 24))
def test_a_key_goes_to_the_partition_aiokafkas_default_gives_it_every_time(
    keys: list[bytes], count: int
) -> None:
    partitions = list(range(count))
    remembering, default = RememberingPartitioner(), DefaultPartitioner()
    for key in keys + keys:  # the second time from what was remembered
        assert remembering(key, partitions, partitions) == default(key, partitions, partitions)


def test_the_same_key_lands_on_the_same_partition_of_topics_with_equal_partition_counts() -> None:
    remembering = RememberingPartitioner()
    person = b"L-1234-5678"
    assert remembering(person, [0, 1, 2, 3, 4, 5], [0, 1]) == remembering(person, [0, 1, 2, 3, 4, 5], [5])


def test_a_record_without_a_key_goes_to_an_available_partition() -> None:
    remembering = RememberingPartitioner()
    assert {remembering(None, [0, 1, 2, 3], [2, 3]) for _ in range(50)} <= {2, 3}


def test_keys_beyond_what_is_remembered_still_get_their_partition() -> None:
    remembering, default = RememberingPartitioner(), DefaultPartitioner()
    keys = [f"P-{n}".encode() for n in range(REMEMBERED_KEYS + 100)]
    partitions = list(range(6))
    assert [remembering(k, partitions, partitions) for k in keys] == [
        default(k, partitions, partitions) for k in keys
    ]
