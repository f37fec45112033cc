-- Attachments, content-addressed per org (one row per distinct file of an org), and the
-- monthly message count of orgs that have a monthly_message_limit.
CREATE TABLE files (
    org_id TEXT NOT NULL REFERENCES orgs (id),
    sha256 TEXT NOT NULL,
    mime TEXT NOT NULL,
    size INTEGER NOT NULL,
    data BLOB NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (org_id, sha256)
);

CREATE TABLE message_usage (
    org_id TEXT NOT NULL REFERENCES orgs (id),
    month TEXT NOT NULL,
    messages INTEGER NOT NULL,
    PRIMARY KEY (org_id, month)
);
