-- Prescription routing and the HTTP service's accounts (lenaguard_storage::accounts): login accounts, browser
-- sessions, API tokens, the login throttle and the access log. Secrets are stored only as hashes.

-- The certified pharmacy a prescription is routed to (NULL: unrouted).
ALTER TABLE prescriptions ADD COLUMN pharmacy TEXT REFERENCES organisations (id);
CREATE INDEX prescriptions_by_pharmacy ON prescriptions (pharmacy, patient) WHERE pharmacy IS NOT NULL;
-- A prescriber's patient list.
CREATE INDEX patients_by_prescriber ON patients (prescriber, id);
