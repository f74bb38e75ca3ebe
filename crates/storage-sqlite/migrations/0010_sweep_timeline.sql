-- The sweep stores each patient's tasks for the days ahead, not only for the day of the sweep: a task holds from
-- from_day through the day before to_day. A state that changes with the date alone (due soon, due, overdue;
-- closing, lapsed) is then a new row already stored, not a new judgement. Lists read the rows that hold on the
-- date of the last sweep (sweep_meta.swept_on). The primary key gains from_day, so the table is rebuilt; the
-- stored rows are kept as holding on every day until the next sweep replaces them.
CREATE TABLE sweep_tasks_timeline (
    patient  TEXT NOT NULL REFERENCES patients (id),
    kind     TEXT NOT NULL,
    state    TEXT NOT NULL,
    due      TEXT NOT NULL,
    act      TEXT NOT NULL,
    rule     TEXT NOT NULL,
    swept_on TEXT NOT NULL,
    from_day TEXT NOT NULL,
    to_day   TEXT NOT NULL,
    PRIMARY KEY (patient, kind, from_day),
    CHECK (from_day < to_day)
);
INSERT INTO sweep_tasks_timeline (patient, kind, state, due, act, rule, swept_on, from_day, to_day)
    SELECT patient, kind, state, due, act, rule, swept_on, '0001-01-01', '9999-12-31' FROM sweep_tasks;
DROP TABLE sweep_tasks;
ALTER TABLE sweep_tasks_timeline RENAME TO sweep_tasks;
CREATE INDEX sweep_tasks_by_due ON sweep_tasks (due);
CREATE INDEX sweep_tasks_blocked ON sweep_tasks (patient) WHERE state = 'blocked';
-- The sweep counts the rows that hold on its date from this index alone. A patient's rows that ended are deleted
-- when the patient is judged again (at most 28 days later), not read before.
CREATE INDEX sweep_tasks_by_days ON sweep_tasks (from_day, to_day);
