-- Prescription routing and the HTTP service's accounts (lenaguard_storage::accounts): login accounts, browser
-- sessions, API tokens, the login throttle and the access log. Secrets are stored only as hashes.

-- The certified pharmacy a prescription is routed to (NULL: unrouted).
ALTER TABLE prescriptions ADD COLUMN pharmacy TEXT REFERENCES organisations (id);
CREATE INDEX prescriptions_by_pharmacy ON prescriptions (pharmacy, patient) WHERE pharmacy IS NOT NULL;
-- A prescriber's patient list.
CREATE INDEX patients_by_prescriber ON patients (prescriber, id);

CREATE TABLE accounts (
    login         TEXT PRIMARY KEY,
    role          TEXT NOT NULL
        CHECK (role IN ('prescriber', 'pharmacist', 'patient', 'program_staff', 'auditor', 'admin')),
    subject       TEXT,
    organisation  TEXT,
    password_hash TEXT,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX accounts_by_role ON accounts (role);

CREATE TABLE sessions (
    id_hash       TEXT PRIMARY KEY,
    login         TEXT NOT NULL REFERENCES accounts (login),
    csrf_token    TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    last_seen_ms  BIGINT NOT NULL
);
-- The purge deletes by absolute end or by idleness; ending an account's sessions deletes by login.
CREATE INDEX sessions_by_expiry ON sessions (expires_at_ms);
CREATE INDEX sessions_by_last_seen ON sessions (last_seen_ms);
CREATE INDEX sessions_by_login ON sessions (login);

CREATE TABLE api_tokens (
    id            TEXT PRIMARY KEY,
    secret_hash   TEXT NOT NULL,
    login         TEXT NOT NULL REFERENCES accounts (login),
    name          TEXT NOT NULL,
    -- A JSON array of scope names, sorted.
    scopes        TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    revoked       BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX api_tokens_by_login ON api_tokens (login, created_at_ms);

CREATE TABLE login_throttle (
    key             TEXT PRIMARY KEY,
    failures        INTEGER NOT NULL CHECK (failures >= 0),
    locked_until_ms BIGINT
);

-- Every read of patient data (and every refused attempt), hash-chained; append-only.
CREATE TABLE access_log (
    seq        BIGINT PRIMARY KEY,
    at_ms      BIGINT NOT NULL,
    login      TEXT NOT NULL,
    role       TEXT NOT NULL
        CHECK (role IN ('prescriber', 'pharmacist', 'patient', 'program_staff', 'auditor', 'admin', 'ehr_client')),
    action     TEXT NOT NULL,
    patient    TEXT,
    status     INTEGER NOT NULL CHECK (status BETWEEN 100 AND 599),
    request_id TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE
);
CREATE INDEX access_log_by_patient ON access_log (patient, seq) WHERE patient IS NOT NULL;

CREATE FUNCTION lenaguard_access_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'access_log is append-only';
END
$$;
CREATE TRIGGER access_log_no_update BEFORE UPDATE OR DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION lenaguard_access_log_append_only();
CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log
    FOR EACH STATEMENT EXECUTE FUNCTION lenaguard_access_log_append_only();
