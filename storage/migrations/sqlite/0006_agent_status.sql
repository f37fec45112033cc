-- Agents can be disabled (their tokens are refused) and deleted. A deleted agent is kept as a
-- row with deleted_at set, so that its messages keep their sender id; no lookup returns it.
ALTER TABLE agents ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
ALTER TABLE agents ADD COLUMN deleted_at TEXT;
