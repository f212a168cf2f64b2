"""Which partitions of one poll the consumer may apply side by side (dipflow.events.consumer.same_people)."""

from __future__ import annotations

from aiokafka import TopicPartition
from hypothesis import given
from hypothesis import strategies as st

from dipflow.events.consumer import same_people


def test_the_same_partition_number_on_two_topics_is_one_group_in_topic_order() -> None:
    polled = [
        TopicPartition("referral.events.v1", 2),
        TopicPartition("custody.events.v1", 0),
        TopicPartition("custody.events.v1", 2),
    ]
    assert same_people(polled) == [
        [TopicPartition("custody.events.v1", 0)],
        [TopicPartition("custody.events.v1", 2), TopicPartition("referral.events.v1", 2)],
    ]


@given(st.sets(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 5)), max_size=18))
def test_every_partition_is_in_exactly_one_group_and_groups_never_share_a_number(
    pairs: set[tuple[str, int]],
) -> None:
    polled = [TopicPartition(t, p) for t, p in pairs]
    groups = same_people(polled)
    flat = [tp for group in groups for tp in group]
    assert sorted(flat) == sorted(polled)
    numbers = [{tp.partition for tp in group} for group in groups]
    assert all(len(n) == 1 for n in numbers)
    assert len({next(iter(n)) for n in numbers}) == len(groups)
