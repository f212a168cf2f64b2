-- K returns: the baseline period and target increase an analyst set for a borough's measure (K1 today).
CREATE TABLE measure_targets (
    measure         text NOT NULL,
    borough         text NOT NULL,
    baseline_period text NOT NULL,
    increase        double precision NOT NULL,
    set_by          text NOT NULL,
    set_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (measure, borough)
);
