-- Which conversations each file belongs to: those it was uploaded into and those whose
-- messages carry it. A visitor reads only the files of their own conversations.
CREATE TABLE conversation_files (
    org_id uuid NOT NULL,
    sha256 text NOT NULL,
    conversation_id uuid NOT NULL REFERENCES conversations (id),
    PRIMARY KEY (org_id, sha256, conversation_id),
    FOREIGN KEY (org_id, sha256) REFERENCES files (org_id, sha256)
);

-- Files attached before this table existed belong to the conversations of the messages that
-- carry them (uploads never attached stay readable by staff only).
INSERT INTO conversation_files (org_id, sha256, conversation_id)
SELECT DISTINCT f.org_id, f.sha256, m.conversation_id
FROM messages m
JOIN conversations v ON v.id = m.conversation_id
CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(m.attachments) = 'array' THEN m.attachments ELSE '[]' END
) a
JOIN files f ON f.org_id = v.org_id AND f.sha256 = a ->> 'sha256'
WHERE m.attachments <> '[]'
ON CONFLICT DO NOTHING;
