-- The uuids of each issued card's suggestions, a JSON array, so that feedback may accept only a suggestion the card
-- carried. Cards recorded before this migration keep NULL: their suggestions are unknown, and feedback accepting a
-- suggestion of one of them is refused.
ALTER TABLE cds_cards ADD COLUMN suggestions TEXT;
