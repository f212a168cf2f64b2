"""One alerts mechanism for every service: an alert names who must act (a role in an area, perhaps one worker),
on what, by when and under which rules; a feed per role, signed webhooks per role and area, acknowledgement and
resolution recorded and audited; raised and resolved by durable timers and events, exactly once."""
