-- The CDS Hooks service's tables (standards.md §1.6, §1.7). No patient identifier is stored here.
-- The jti of every accepted client token until it expires: every server on this database refuses a replay.
CREATE TABLE cds_jti (
    iss        TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (iss, jti)
);
CREATE INDEX cds_jti_by_expiry ON cds_jti (expires_at);

-- Cards issued, to whom and by which service, and the rules behind each.
CREATE TABLE cds_cards (
    client    TEXT NOT NULL,
    uuid      TEXT NOT NULL,
    service   TEXT NOT NULL,
    indicator TEXT NOT NULL CHECK (indicator IN ('info', 'warning', 'critical')),
    issued_on TEXT NOT NULL,
    PRIMARY KEY (client, uuid)
);

CREATE TABLE cds_card_rules (
    client TEXT NOT NULL,
    card   TEXT NOT NULL,
    rule   TEXT NOT NULL,
    PRIMARY KEY (client, card, rule),
    FOREIGN KEY (client, card) REFERENCES cds_cards (client, uuid)
);
CREATE INDEX cds_card_rules_by_rule ON cds_card_rules (rule);

-- Feedback: one report per card, client and outcomeTimestamp. The free-text userComment is not kept.
CREATE TABLE cds_feedback (
    client               TEXT NOT NULL,
    card                 TEXT NOT NULL,
    outcome_at_ms        INTEGER NOT NULL,
    outcome              TEXT NOT NULL CHECK (outcome IN ('accepted', 'overridden')),
    accepted_suggestions TEXT NOT NULL,
    reason_system        TEXT,
    reason_code          TEXT,
    PRIMARY KEY (client, card, outcome_at_ms),
    FOREIGN KEY (client, card) REFERENCES cds_cards (client, uuid)
);
