"""Which partitions of one poll the consumer may apply side by side (dipflow.events.consumer.same_people), and
how it shares them among its transactions (lanes)."""

from __future__ import annotations

from aiokafka import TopicPartition
from hypothesis import given
from hypothesis import strategies as st

from dipflow.events.consumer import lanes, same_people


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


def test_groups_are_dealt_to_the_lanes_in_turn_and_one_group_stays_in_one_lane() -> None:
    groups = same_people(
        [TopicPartition("custody.events.v1", n) for n in range(5)] + [TopicPartition("referral.events.v1", 1)]
    )
    assert lanes(groups, 2) == [
        [
            TopicPartition("custody.events.v1", 0),
            TopicPartition("custody.events.v1", 2),
            TopicPartition("custody.events.v1", 4),
        ],
        [
            TopicPartition("custody.events.v1", 1),
            TopicPartition("referral.events.v1", 1),
            TopicPartition("custody.events.v1", 3),
        ],
    ]
    assert lanes(groups[:1], 2) == [[TopicPartition("custody.events.v1", 0)]]
    assert lanes([], 2) == []


@given(
    st.sets(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 5)), max_size=18),
    st.integers(1, 8),
)
def test_every_partition_is_in_exactly_one_lane_and_no_number_in_two(
    pairs: set[tuple[str, int]], count: int
) -> None:
    polled = [TopicPartition(t, p) for t, p in pairs]
    dealt = lanes(same_people(polled), count)
    assert len(dealt) <= count and all(dealt)
    assert sorted(tp for lane in dealt for tp in lane) == sorted(polled)
    numbers = [{tp.partition for tp in lane} for lane in dealt]
    assert all(a.isdisjoint(b) for i, a in enumerate(numbers) for b in numbers[i + 1 :])
