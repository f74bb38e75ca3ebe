-- The head of the audit chain in one row. A command locks it (SELECT ... FOR UPDATE) only to append its event,
-- and the append moves it in the same statement, so the serial part of a command is two statements and the
-- commit. `hash` NULL is the genesis head (the hash the first event chains to is the code's, not the schema's).
CREATE TABLE audit_head (
    one  BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    seq  BIGINT NOT NULL,
    hash TEXT
);
INSERT INTO audit_head (seq, hash)
SELECT COALESCE(MAX(seq), 0), (SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1) FROM audit_events;

-- The order of a patient's rows: every row written takes the next value, without the chain lock. Commands about
-- one patient are judged one at a time under the patient's lock, and a bulk load inserts in generation order, so
-- within a patient and a table this is the order the rows were written in (a patient's file is read in it).
CREATE SEQUENCE row_order;
SELECT setval('row_order', GREATEST(COALESCE((SELECT MAX(seq) FROM audit_events), 0), 1));
