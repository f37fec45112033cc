-- Private notes: messages only staff see (never visitors, bots, channels or live-agent
-- platforms); the seq they take is a gap in what a visitor reads.
ALTER TABLE messages ADD COLUMN private boolean NOT NULL DEFAULT false;

-- Conversation search (GET /v1/search): GIN expression indexes of tsvectors (the 'simple'
-- configuration: no stemming, like SQLite's unicode61 tokenizer) over message text and contact
-- names and emails; storage/postgres/search.py queries these exact expressions. Emails are
-- indexed with "@" and "." as separators, so a part of an address finds it.
CREATE INDEX messages_search ON messages USING gin (to_tsvector('simple', content));
CREATE INDEX contacts_search ON contacts USING gin (
    to_tsvector('simple', coalesce(name, '') || ' ' || translate(coalesce(email, ''), '@.', '  '))
);
CREATE INDEX conversations_org_updated ON conversations (org_id, updated_at DESC, id DESC);
