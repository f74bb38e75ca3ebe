-- The program workflow: registry, patient records, prescriptions, authorizations, confirmations, dispenses,
-- and the hash-chained audit trail. Dates are ISO text (YYYY-MM-DD), which sorts as dates.

CREATE TABLE organisations (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('clinic', 'pharmacy')),
    name            TEXT NOT NULL,
    certified_until TEXT
);

CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    organisation    TEXT NOT NULL REFERENCES organisations (id),
    name            TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('prescriber', 'pharmacist', 'program_staff')),
    certified_until TEXT
);

-- One enrollment per patient identity.
CREATE TABLE patients (
    id                  TEXT PRIMARY KEY,
    identity            TEXT NOT NULL,
    sex                 TEXT NOT NULL,
    birth_date          TEXT NOT NULL,
    category            TEXT NOT NULL,
    agreement_signed_on TEXT NOT NULL,
    guardian            TEXT,
    prescriber          TEXT NOT NULL REFERENCES users (id),
    regimen             TEXT NOT NULL,
    not_reproductive    TEXT,
    planned_start       TEXT,
    status              TEXT NOT NULL,
    start_date          TEXT,
    last_dose           TEXT
);
CREATE UNIQUE INDEX one_enrollment_per_identity ON patients (identity);

-- Append-only facts read whole per patient (typed JSON bodies).
CREATE TABLE patient_records (
    id      TEXT PRIMARY KEY,
    patient TEXT NOT NULL REFERENCES patients (id),
    kind    TEXT NOT NULL,
    on_date TEXT NOT NULL,
    body    TEXT NOT NULL,
    seq     INTEGER NOT NULL
);
CREATE INDEX patient_records_by_patient ON patient_records (patient, seq);

CREATE TABLE prescriptions (
    id          TEXT PRIMARY KEY,
    patient     TEXT NOT NULL REFERENCES patients (id),
    prescriber  TEXT NOT NULL REFERENCES users (id),
    date        TEXT NOT NULL,
    dose_mg     REAL NOT NULL,
    schedule    TEXT NOT NULL,
    quantity    INTEGER NOT NULL CHECK (quantity > 0),
    days_supply INTEGER NOT NULL CHECK (days_supply > 0),
    refills     INTEGER NOT NULL,
    telephone   INTEGER NOT NULL,
    seq         INTEGER NOT NULL
);
CREATE INDEX prescriptions_by_patient ON prescriptions (patient, seq);

CREATE TABLE authorizations (
    number        TEXT PRIMARY KEY,
    prescription  TEXT NOT NULL REFERENCES prescriptions (id),
    patient       TEXT NOT NULL REFERENCES patients (id),
    issued_on     TEXT NOT NULL,
    valid_through TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('active', 'used')),
    seq           INTEGER NOT NULL
);
-- One active authorization per prescription.
CREATE UNIQUE INDEX one_active_authorization_per_prescription ON authorizations (prescription) WHERE status = 'active';
CREATE INDEX authorizations_by_patient ON authorizations (patient, seq);

CREATE TABLE confirmations (
    number        TEXT PRIMARY KEY,
    authorization_number TEXT NOT NULL REFERENCES authorizations (number),
    pharmacy      TEXT NOT NULL REFERENCES organisations (id),
    patient       TEXT NOT NULL REFERENCES patients (id),
    issued_on     TEXT NOT NULL,
    valid_through TEXT NOT NULL,
    seq           INTEGER NOT NULL
);
CREATE INDEX confirmations_by_patient ON confirmations (patient, seq);

CREATE TABLE dispenses (
    id            TEXT PRIMARY KEY,
    authorization_number TEXT NOT NULL REFERENCES authorizations (number),
    confirmation  TEXT NOT NULL REFERENCES confirmations (number),
    patient       TEXT NOT NULL REFERENCES patients (id),
    pharmacy      TEXT NOT NULL REFERENCES organisations (id),
    pharmacist    TEXT NOT NULL REFERENCES users (id),
    date          TEXT NOT NULL,
    days_supply   INTEGER NOT NULL,
    quantity      INTEGER NOT NULL,
    counselling   TEXT NOT NULL,
    seq           INTEGER NOT NULL
);
-- One dispense per authorization.
CREATE UNIQUE INDEX one_dispense_per_authorization ON dispenses (authorization_number);
CREATE INDEX dispenses_by_patient ON dispenses (patient, seq);

-- The audit chain. `event` is the canonical JSON that `hash` covers.
CREATE TABLE audit_events (
    seq       INTEGER PRIMARY KEY,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL UNIQUE,
    event     TEXT NOT NULL
);

CREATE TABLE idempotency (
    key          TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    seq          INTEGER NOT NULL REFERENCES audit_events (seq)
);
