-- Fair claims and retention of the outbox (issue 14).
--
-- receiver: who a row is sent to, its webhook endpoint or its widget's live-agent platform;
-- NULL for timers, which send nothing. Claims take a few due rows of each receiver in turn,
-- within caps on the attempts in flight per receiver and per org.
ALTER TABLE outbox ADD COLUMN receiver TEXT;
UPDATE outbox SET receiver = CASE target
    WHEN 'endpoint' THEN endpoint_id
    WHEN 'live_agent' THEN widget_id
END;
CREATE INDEX outbox_receiver_due ON outbox (receiver, next_attempt_at, position)
    WHERE status = 'pending';
-- Attempts in flight: leased rows (a finished attempt clears its lease).
CREATE INDEX outbox_leased ON outbox (receiver, org_id)
    WHERE status = 'pending' AND lease_owner IS NOT NULL;
-- Retention purges finished rows, oldest first.
CREATE INDEX outbox_finished ON outbox (finished_at) WHERE status <> 'pending';
-- A node lease is purged once its heartbeat is long gone.
CREATE INDEX nodes_seen ON nodes (seen_at);
