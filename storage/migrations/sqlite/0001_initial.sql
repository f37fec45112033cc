-- chatgate schema, SQLite. Timestamps are RFC 3339 UTC text with milliseconds, which sorts
-- lexicographically; JSON columns hold orjson text.

CREATE TABLE orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    monthly_message_limit INTEGER,
    created_at TEXT NOT NULL
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs (id),
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX api_keys_org ON api_keys (org_id);

CREATE TABLE widgets (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs (id),
    name TEXT NOT NULL,
    allowed_origins TEXT NOT NULL,
    messages_per_minute INTEGER,
    live_agent_endpoint_url TEXT,
    bot_settings TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);
CREATE INDEX widgets_org ON widgets (org_id);

CREATE TABLE agents (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs (id),
    name TEXT NOT NULL,
    email TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX agents_org ON agents (org_id);

CREATE TABLE contacts (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs (id),
    widget_id TEXT,
    external_id TEXT,
    name TEXT,
    email TEXT,
    metadata TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX contacts_external ON contacts (org_id, external_id)
    WHERE external_id IS NOT NULL;

CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs (id),
    widget_id TEXT,
    contact_id TEXT,
    status TEXT NOT NULL,
    handler TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    assignee_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    resolved_at TEXT,
    ended_at TEXT,
    live_agent_handoff_at TEXT,
    first_response_at TEXT,
    last_seq INTEGER NOT NULL DEFAULT 0,
    metadata TEXT NOT NULL
);
CREATE INDEX conversations_org_created ON conversations (org_id, created_at DESC, id DESC);
CREATE INDEX conversations_contact ON conversations (contact_id, created_at DESC, id DESC);

CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    seq INTEGER NOT NULL,
    role TEXT NOT NULL,
    sender_id TEXT,
    content TEXT NOT NULL,
    attachments TEXT NOT NULL,
    metadata TEXT NOT NULL,
    client_message_id TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (conversation_id, seq)
);
CREATE UNIQUE INDEX messages_client_id ON messages (conversation_id, client_message_id)
    WHERE client_message_id IS NOT NULL;

CREATE TABLE conversation_changes (
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    seq INTEGER NOT NULL,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);

CREATE TABLE read_cursors (
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    reader TEXT NOT NULL,
    seq INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (conversation_id, reader)
);

CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER,
    headers TEXT NOT NULL DEFAULT '{}',
    body BLOB NOT NULL DEFAULT x'',
    created_at TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
