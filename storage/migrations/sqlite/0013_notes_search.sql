-- Private notes: messages only staff see (never visitors, bots, channels or live-agent
-- platforms); the seq they take is a gap in what a visitor reads.
ALTER TABLE messages ADD COLUMN private INTEGER NOT NULL DEFAULT 0;

-- Conversation search (GET /v1/search): FTS5 indexes over message text and contact names and
-- emails, kept by triggers (external content: the text lives once, in its own table). Emails
-- are indexed with "@" and "." as separators, so a part of an address finds it (as in
-- PostgreSQL's index, which gets the same text).
CREATE VIRTUAL TABLE message_search USING fts5(
    content, content = 'messages', content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO message_search (rowid, content) SELECT rowid, content FROM messages;
CREATE TRIGGER message_search_insert AFTER INSERT ON messages BEGIN
    INSERT INTO message_search (rowid, content) VALUES (new.rowid, new.content);
END;
CREATE TRIGGER message_search_delete AFTER DELETE ON messages BEGIN
    INSERT INTO message_search (message_search, rowid, content)
        VALUES ('delete', old.rowid, old.content);
END;

CREATE VIRTUAL TABLE contact_search USING fts5(
    words, tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO contact_search (rowid, words)
    SELECT rowid, coalesce(name, '') || ' ' || coalesce(email, '') FROM contacts;
CREATE TRIGGER contact_search_insert AFTER INSERT ON contacts BEGIN
    INSERT INTO contact_search (rowid, words)
        VALUES (new.rowid, coalesce(new.name, '') || ' ' || coalesce(new.email, ''));
END;
CREATE TRIGGER contact_search_update AFTER UPDATE OF name, email ON contacts BEGIN
    DELETE FROM contact_search WHERE rowid = old.rowid;
    INSERT INTO contact_search (rowid, words)
        VALUES (new.rowid, coalesce(new.name, '') || ' ' || coalesce(new.email, ''));
END;
CREATE TRIGGER contact_search_delete AFTER DELETE ON contacts BEGIN
    DELETE FROM contact_search WHERE rowid = old.rowid;
END;
CREATE INDEX conversations_org_updated ON conversations (org_id, updated_at DESC, id DESC);
