-- The incremental sweep. Every command that writes to a patient's file marks the patient in the same
-- transaction (the mark counts up, so a sweep clears only the mark it read before reading the file); the sweep
-- keeps, for each patient it judged, the first day on which the stored tasks may differ; and it records what it
-- was judged with. A night's sweep then judges only the marked patients and those whose day has come.
CREATE TABLE sweep_marks (
    patient TEXT PRIMARY KEY REFERENCES patients (id),
    mark    BIGINT NOT NULL
);

CREATE TABLE sweep_state (
    patient   TEXT PRIMARY KEY REFERENCES patients (id),
    judged_on DATE NOT NULL,
    until     DATE NOT NULL
);
CREATE INDEX sweep_state_by_until ON sweep_state (until);

CREATE TABLE sweep_meta (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    fingerprint TEXT NOT NULL,
    swept_on    DATE NOT NULL
);

-- The sweep reports how many stored tasks are records the engine could not judge, without reading every task.
CREATE INDEX sweep_tasks_blocked ON sweep_tasks (patient) WHERE state = 'blocked';

-- Patients enrolled before this migration have no answer stored yet; with no sweep_meta row the next sweep
-- judges every patient.
