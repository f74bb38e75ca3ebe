-- The audit chain's head, read under the chain's advisory lock in one round trip. A VOLATILE PL/pgSQL function
-- takes a fresh snapshot for each statement it runs, so the read after the lock sees the last committed append
-- (one statement that took the lock and read would read with the snapshot from before it waited).
-- The head is no longer kept in a row of its own (0005): a row updated by every command piles up dead versions
-- while any long transaction is open (pg_dump of a busy database), and every command then pays for them.
DROP TABLE audit_head;

CREATE FUNCTION lenaguard_chain_head(lock_key BIGINT) RETURNS TABLE (seq BIGINT, hash TEXT)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    RETURN QUERY SELECT a.seq, a.hash FROM audit_events a ORDER BY a.seq DESC LIMIT 1;
END
$$;
