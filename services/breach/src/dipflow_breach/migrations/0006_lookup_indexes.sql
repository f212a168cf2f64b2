-- Lookups that read whole tables as they grew: an order's warnings (read for every compliance record that
-- fails, D2), an order's breach cases (the order's page), and the breach cases of an area (its list).
CREATE INDEX warnings_order ON warnings (order_id, issued_on);
CREATE INDEX breach_cases_order ON breach_cases (order_id, failure_on);
CREATE INDEX breach_cases_area ON breach_cases (area, opened_at);
