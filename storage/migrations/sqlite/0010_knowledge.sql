-- The knowledge base: articles (given through the API, or imported from a page: then one
-- article per org and url), their passages, and the passages' full-text index (FTS5, porter
-- stemming, ranked by bm25). The index holds no copy of the text (external content): the
-- triggers keep it in step with knowledge_chunks.
CREATE TABLE knowledge_articles (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs (id),
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    url TEXT,
    source TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX knowledge_articles_org ON knowledge_articles (org_id, created_at, id);
CREATE UNIQUE INDEX knowledge_articles_import ON knowledge_articles (org_id, url)
    WHERE source = 'import';

-- title: the article's title and the passage's heading, as the index sees them.
CREATE TABLE knowledge_chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id TEXT NOT NULL REFERENCES knowledge_articles (id) ON DELETE CASCADE,
    org_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    heading TEXT NOT NULL,
    title TEXT NOT NULL,
    content TEXT NOT NULL
);
CREATE INDEX knowledge_chunks_article ON knowledge_chunks (article_id, position);

CREATE VIRTUAL TABLE knowledge_fts USING fts5 (
    title, content, content = 'knowledge_chunks', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER knowledge_chunks_indexed AFTER INSERT ON knowledge_chunks BEGIN
    INSERT INTO knowledge_fts (rowid, title, content) VALUES (new.id, new.title, new.content);
END;

CREATE TRIGGER knowledge_chunks_unindexed AFTER DELETE ON knowledge_chunks BEGIN
    INSERT INTO knowledge_fts (knowledge_fts, rowid, title, content)
        VALUES ('delete', old.id, old.title, old.content);
END;
