-- Webhook endpoints, the outbox (every signed HTTP delivery and timer, written in the same
-- transaction as the change it reports), and each delivery's attempts. Conversations get a
-- channel; widgets get their live-agent escalation settings.
ALTER TABLE conversations ADD COLUMN channel TEXT NOT NULL DEFAULT 'widget';

ALTER TABLE widgets ADD COLUMN live_agent_escalate_after INTEGER NOT NULL DEFAULT 0;
ALTER TABLE widgets ADD COLUMN live_agent_timeout INTEGER NOT NULL DEFAULT 300;
ALTER TABLE widgets ADD COLUMN live_agent_fallback TEXT NOT NULL DEFAULT 'team';
ALTER TABLE widgets ADD COLUMN live_agent_secret TEXT;

CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs (id),
    url TEXT NOT NULL,
    kind TEXT NOT NULL,
    description TEXT NOT NULL,
    event_types TEXT NOT NULL,
    secrets TEXT NOT NULL,
    fifo INTEGER NOT NULL,
    status TEXT NOT NULL,
    paused_reason TEXT,
    failing_since TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints (org_id, created_at);

-- position orders the outbox (FIFO keys are served in position order).
CREATE TABLE outbox (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    message_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    target TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload BLOB NOT NULL,
    endpoint_id TEXT,
    widget_id TEXT,
    conversation_id TEXT,
    seq INTEGER,
    fifo_key TEXT,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    lease_owner TEXT,
    lease_until TEXT,
    last_status INTEGER,
    last_error TEXT,
    created_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbox_fifo ON outbox (fifo_key, position) WHERE status = 'pending';
CREATE INDEX outbox_endpoint ON outbox (endpoint_id, created_at);

CREATE TABLE delivery_attempts (
    delivery_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    at TEXT NOT NULL,
    status_code INTEGER,
    error TEXT,
    duration_ms INTEGER NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
