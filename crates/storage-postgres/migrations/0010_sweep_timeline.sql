-- The sweep stores each patient's tasks for the days ahead, not only for the day of the sweep: a task holds from
-- from_day through the day before to_day. A state that changes with the date alone (due soon, due, overdue;
-- closing, lapsed) is then a new row already stored, not a new judgement. Lists read the rows that hold on the
-- date of the last sweep (sweep_meta.swept_on). The stored rows are kept as holding on every day until the next
-- sweep replaces them.
ALTER TABLE sweep_tasks
    ADD COLUMN from_day DATE NOT NULL DEFAULT '0001-01-01',
    ADD COLUMN to_day DATE NOT NULL DEFAULT '9999-12-31';
ALTER TABLE sweep_tasks ALTER COLUMN from_day DROP DEFAULT, ALTER COLUMN to_day DROP DEFAULT;
ALTER TABLE sweep_tasks DROP CONSTRAINT sweep_tasks_pkey, ADD PRIMARY KEY (patient, kind, from_day);
ALTER TABLE sweep_tasks ADD CONSTRAINT sweep_tasks_days CHECK (from_day < to_day);
-- The sweep counts the rows that hold on its date from this index alone. A patient's rows that ended are deleted
-- when the patient is judged again (at most 28 days later), not read before.
CREATE INDEX sweep_tasks_by_days ON sweep_tasks (from_day, to_day);
