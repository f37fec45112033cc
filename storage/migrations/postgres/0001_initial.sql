-- chatgate schema, PostgreSQL. Ids are uuid; timestamps timestamptz; JSON columns jsonb.

CREATE TABLE orgs (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    monthly_message_limit integer,
    created_at timestamptz NOT NULL
);

CREATE TABLE api_keys (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES orgs (id),
    name text NOT NULL,
    prefix text NOT NULL,
    key_hash text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX api_keys_org ON api_keys (org_id);

CREATE TABLE widgets (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES orgs (id),
    name text NOT NULL,
    allowed_origins jsonb NOT NULL,
    messages_per_minute integer,
    live_agent_endpoint_url text,
    bot_settings jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL
);
CREATE INDEX widgets_org ON widgets (org_id);

CREATE TABLE agents (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES orgs (id),
    name text NOT NULL,
    email text,
    created_at timestamptz NOT NULL
);
CREATE INDEX agents_org ON agents (org_id);

CREATE TABLE contacts (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES orgs (id),
    widget_id uuid,
    external_id text,
    name text,
    email text,
    metadata jsonb NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX contacts_external ON contacts (org_id, external_id)
    WHERE external_id IS NOT NULL;

CREATE TABLE conversations (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES orgs (id),
    widget_id uuid,
    contact_id uuid,
    status text NOT NULL,
    handler text NOT NULL,
    epoch integer NOT NULL,
    assignee_id uuid,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    resolved_at timestamptz,
    ended_at timestamptz,
    live_agent_handoff_at timestamptz,
    first_response_at timestamptz,
    last_seq bigint NOT NULL DEFAULT 0,
    metadata jsonb NOT NULL
);
CREATE INDEX conversations_org_created ON conversations (org_id, created_at DESC, id DESC);
CREATE INDEX conversations_contact ON conversations (contact_id, created_at DESC, id DESC);

CREATE TABLE messages (
    id uuid PRIMARY KEY,
    conversation_id uuid NOT NULL REFERENCES conversations (id),
    seq bigint NOT NULL,
    role text NOT NULL,
    sender_id text,
    content text NOT NULL,
    attachments jsonb NOT NULL,
    metadata jsonb NOT NULL,
    client_message_id text,
    created_at timestamptz NOT NULL,
    UNIQUE (conversation_id, seq)
);
CREATE UNIQUE INDEX messages_client_id ON messages (conversation_id, client_message_id)
    WHERE client_message_id IS NOT NULL;

CREATE TABLE conversation_changes (
    conversation_id uuid NOT NULL REFERENCES conversations (id),
    seq bigint NOT NULL,
    data jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);

CREATE TABLE read_cursors (
    conversation_id uuid NOT NULL REFERENCES conversations (id),
    reader text NOT NULL,
    seq bigint NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (conversation_id, reader)
);

CREATE TABLE idempotency_keys (
    scope text NOT NULL,
    key text NOT NULL,
    request_hash text NOT NULL,
    status integer,
    headers jsonb NOT NULL DEFAULT '{}',
    body bytea NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

CREATE TABLE settings (
    name text PRIMARY KEY,
    value text NOT NULL
);
