-- The nightly sweep's result: for each patient on treatment, what is due, overdue or about to lapse. Derived
-- data, replaced by every sweep (the commands that caused it are in the audit trail).
CREATE TABLE sweep_tasks (
    patient  TEXT NOT NULL REFERENCES patients (id),
    kind     TEXT NOT NULL,
    state    TEXT NOT NULL,
    due      TEXT NOT NULL,
    act      TEXT NOT NULL,
    rule     TEXT NOT NULL,
    swept_on TEXT NOT NULL,
    PRIMARY KEY (patient, kind)
);
CREATE INDEX sweep_tasks_by_due ON sweep_tasks (due);
