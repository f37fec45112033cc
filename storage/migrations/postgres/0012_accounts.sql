-- Agent accounts (issue 17): a role, a password and a sign-in email per agent; one-time
-- invitation and password-reset links; sign-in sessions. Existing agents become plain
-- agents without a password (an admin gives them a reset link to sign in).
-- login_email is the lowercased address an agent signs in with, unique across every org;
-- NULL for agents without an account.
ALTER TABLE agents ADD COLUMN role text NOT NULL DEFAULT 'agent';
ALTER TABLE agents ADD COLUMN password_hash text;
ALTER TABLE agents ADD COLUMN login_email text;
CREATE UNIQUE INDEX agents_login_email ON agents (login_email);

-- One-time links: only the SHA-256 of the token is kept; a row is deleted when used.
CREATE TABLE account_tokens (
    token_hash text PRIMARY KEY,
    purpose text NOT NULL,
    org_id uuid NOT NULL REFERENCES orgs (id),
    email text,
    role text,
    name text,
    agent_id uuid,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX account_tokens_expiry ON account_tokens (expires_at);

-- Sign-in sessions: only the SHA-256 of the cookie's token is kept.
CREATE TABLE agent_sessions (
    id uuid PRIMARY KEY,
    token_hash text NOT NULL UNIQUE,
    agent_id uuid NOT NULL REFERENCES agents (id),
    org_id uuid NOT NULL,
    created_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    address text,
    user_agent text,
    revoked_at timestamptz
);
CREATE INDEX agent_sessions_agent ON agent_sessions (agent_id);
CREATE INDEX agent_sessions_expiry ON agent_sessions (expires_at);
