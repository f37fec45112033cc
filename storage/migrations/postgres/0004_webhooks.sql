-- Webhook endpoints, the outbox (every signed HTTP delivery and timer, written in the same
-- transaction as the change it reports), and each delivery's attempts. Conversations get a
-- channel; widgets get their live-agent escalation settings.
ALTER TABLE conversations ADD COLUMN channel text NOT NULL DEFAULT 'widget';

ALTER TABLE widgets ADD COLUMN live_agent_escalate_after integer NOT NULL DEFAULT 0;
ALTER TABLE widgets ADD COLUMN live_agent_timeout integer NOT NULL DEFAULT 300;
ALTER TABLE widgets ADD COLUMN live_agent_fallback text NOT NULL DEFAULT 'team';
ALTER TABLE widgets ADD COLUMN live_agent_secret text;

-- secrets: [[secret, expires_at (RFC 3339) or null], ...], newest first.
CREATE TABLE webhook_endpoints (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES orgs (id),
    url text NOT NULL,
    kind text NOT NULL,
    description text NOT NULL,
    event_types jsonb NOT NULL,
    secrets jsonb NOT NULL,
    fifo boolean NOT NULL,
    status text NOT NULL,
    paused_reason text,
    failing_since timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints (org_id, created_at);

-- position orders the outbox (FIFO keys are served in position order).
CREATE TABLE outbox (
    position bigserial PRIMARY KEY,
    id text NOT NULL UNIQUE,
    message_id text NOT NULL,
    org_id uuid NOT NULL,
    target text NOT NULL,
    event_type text NOT NULL,
    payload bytea NOT NULL,
    endpoint_id uuid,
    widget_id uuid,
    conversation_id uuid,
    seq bigint,
    fifo_key text,
    status text NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    lease_owner text,
    lease_until timestamptz,
    last_status integer,
    last_error text,
    created_at timestamptz NOT NULL,
    finished_at timestamptz
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbox_fifo ON outbox (fifo_key, position) WHERE status = 'pending';
CREATE INDEX outbox_endpoint ON outbox (endpoint_id, created_at);

CREATE TABLE delivery_attempts (
    delivery_id text NOT NULL,
    attempt integer NOT NULL,
    at timestamptz NOT NULL,
    status_code integer,
    error text,
    duration_ms integer NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
