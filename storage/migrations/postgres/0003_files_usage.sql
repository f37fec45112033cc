-- Attachments, content-addressed per org (one row per distinct file of an org), and the
-- monthly message count of orgs that have a monthly_message_limit.
CREATE TABLE files (
    org_id uuid NOT NULL REFERENCES orgs (id),
    sha256 text NOT NULL,
    mime text NOT NULL,
    size bigint NOT NULL,
    data bytea NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, sha256)
);

CREATE TABLE message_usage (
    org_id uuid NOT NULL REFERENCES orgs (id),
    month text NOT NULL,
    messages bigint NOT NULL,
    PRIMARY KEY (org_id, month)
);
