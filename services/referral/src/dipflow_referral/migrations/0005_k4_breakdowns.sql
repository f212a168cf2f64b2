-- K4 by PPO status: whether the person was on the PPO register when booked in (custody.booked_in's is_ppo);
-- null for bookings kept before it was (reported as "not recorded").
ALTER TABLE detentions ADD COLUMN is_ppo boolean;
