-- The program workflow: registry, patient records, prescriptions, authorizations, confirmations, dispenses,
-- and the hash-chained audit trail. Connections set DateStyle ISO, so dates read back as YYYY-MM-DD text.

CREATE TABLE organisations (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('clinic', 'pharmacy')),
    name            TEXT NOT NULL,
    certified_until DATE
);

CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    organisation    TEXT NOT NULL REFERENCES organisations (id),
    name            TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('prescriber', 'pharmacist', 'program_staff')),
    certified_until DATE
);

-- One enrollment per patient identity.
CREATE TABLE patients (
    id                  TEXT PRIMARY KEY,
    identity            TEXT NOT NULL,
    sex                 TEXT NOT NULL,
    birth_date          DATE NOT NULL,
    category            TEXT NOT NULL,
    agreement_signed_on DATE NOT NULL,
    guardian            TEXT,
    prescriber          TEXT NOT NULL REFERENCES users (id),
    regimen             TEXT NOT NULL,
    not_reproductive    TEXT,
    planned_start       DATE,
    status              TEXT NOT NULL,
    start_date          DATE,
    last_dose           DATE
);
CREATE UNIQUE INDEX one_enrollment_per_identity ON patients (identity);

-- Append-only facts read whole per patient (typed JSON bodies).
CREATE TABLE patient_records (
    id      TEXT PRIMARY KEY,
    patient TEXT NOT NULL REFERENCES patients (id),
    kind    TEXT NOT NULL,
    on_date DATE NOT NULL,
    body    TEXT NOT NULL,
    seq     BIGINT NOT NULL
);
CREATE INDEX patient_records_by_patient ON patient_records (patient, seq);

CREATE TABLE prescriptions (
    id          TEXT PRIMARY KEY,
    patient     TEXT NOT NULL REFERENCES patients (id),
    prescriber  TEXT NOT NULL REFERENCES users (id),
    date        DATE NOT NULL,
    dose_mg     DOUBLE PRECISION NOT NULL,
    schedule    TEXT NOT NULL,
    quantity    BIGINT NOT NULL CHECK (quantity > 0),
    days_supply BIGINT NOT NULL CHECK (days_supply > 0),
    refills     BIGINT NOT NULL,
    telephone   BOOLEAN NOT NULL,
    seq         BIGINT NOT NULL
);
CREATE INDEX prescriptions_by_patient ON prescriptions (patient, seq);

CREATE TABLE authorizations (
    number        TEXT PRIMARY KEY,
    prescription  TEXT NOT NULL REFERENCES prescriptions (id),
    patient       TEXT NOT NULL REFERENCES patients (id),
    issued_on     DATE NOT NULL,
    valid_through DATE NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('active', 'used')),
    seq           BIGINT NOT NULL
);
-- One active authorization per prescription.
CREATE UNIQUE INDEX one_active_authorization_per_prescription ON authorizations (prescription) WHERE status = 'active';
CREATE INDEX authorizations_by_patient ON authorizations (patient, seq);

CREATE TABLE confirmations (
    number        TEXT PRIMARY KEY,
    authorization_number TEXT NOT NULL REFERENCES authorizations (number),
    pharmacy      TEXT NOT NULL REFERENCES organisations (id),
    patient       TEXT NOT NULL REFERENCES patients (id),
    issued_on     DATE NOT NULL,
    valid_through DATE NOT NULL,
    seq           BIGINT NOT NULL
);
CREATE INDEX confirmations_by_patient ON confirmations (patient, seq);

CREATE TABLE dispenses (
    id            TEXT PRIMARY KEY,
    authorization_number TEXT NOT NULL REFERENCES authorizations (number),
    confirmation  TEXT NOT NULL REFERENCES confirmations (number),
    patient       TEXT NOT NULL REFERENCES patients (id),
    pharmacy      TEXT NOT NULL REFERENCES organisations (id),
    pharmacist    TEXT NOT NULL REFERENCES users (id),
    date          DATE NOT NULL,
    days_supply   BIGINT NOT NULL,
    quantity      BIGINT NOT NULL,
    counselling   TEXT NOT NULL,
    seq           BIGINT NOT NULL
);
-- One dispense per authorization.
CREATE UNIQUE INDEX one_dispense_per_authorization ON dispenses (authorization_number);
CREATE INDEX dispenses_by_patient ON dispenses (patient, seq);

-- The audit chain. `event` is the canonical JSON that `hash` covers.
CREATE TABLE audit_events (
    seq       BIGINT PRIMARY KEY,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL UNIQUE,
    event     TEXT NOT NULL
);

CREATE TABLE idempotency (
    key          TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    seq          BIGINT NOT NULL REFERENCES audit_events (seq)
);
