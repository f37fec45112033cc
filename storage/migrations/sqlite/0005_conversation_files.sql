-- Which conversations each file belongs to: those it was uploaded into and those whose
-- messages carry it. A visitor reads only the files of their own conversations.
CREATE TABLE conversation_files (
    org_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    PRIMARY KEY (org_id, sha256, conversation_id),
    FOREIGN KEY (org_id, sha256) REFERENCES files (org_id, sha256)
) WITHOUT ROWID;

-- Files attached before this table existed belong to the conversations of the messages that
-- carry them (uploads never attached stay readable by staff only).
INSERT OR IGNORE INTO conversation_files (org_id, sha256, conversation_id)
SELECT f.org_id, f.sha256, attached.conversation_id
FROM (
    SELECT v.org_id, m.conversation_id,
        CASE WHEN a.type = 'object' THEN json_extract(a.value, '$.sha256') END AS sha256
    FROM messages m
    JOIN conversations v ON v.id = m.conversation_id,
    json_each(m.attachments) a
    WHERE m.attachments <> '[]'
) attached
JOIN files f ON f.org_id = attached.org_id AND f.sha256 = attached.sha256;
