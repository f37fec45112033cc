-- The knowledge base: articles (given through the API, or imported from a page: then one
-- article per org and url), their passages, and the passages' full-text index (a generated
-- tsvector, english configuration, the title weighted above the text, GIN-indexed, ranked by
-- ts_rank).
CREATE TABLE knowledge_articles (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES orgs (id),
    title text NOT NULL,
    body text NOT NULL,
    url text,
    source text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX knowledge_articles_org ON knowledge_articles (org_id, created_at, id);
CREATE UNIQUE INDEX knowledge_articles_import ON knowledge_articles (org_id, url)
    WHERE source = 'import';

-- title: the article's title and the passage's heading, as the index sees them.
CREATE TABLE knowledge_chunks (
    id bigserial PRIMARY KEY,
    article_id uuid NOT NULL REFERENCES knowledge_articles (id) ON DELETE CASCADE,
    org_id uuid NOT NULL,
    position integer NOT NULL,
    heading text NOT NULL,
    title text NOT NULL,
    content text NOT NULL,
    search tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english'::regconfig, title), 'A')
        || setweight(to_tsvector('english'::regconfig, content), 'B')
    ) STORED
);
CREATE INDEX knowledge_chunks_article ON knowledge_chunks (article_id, position);
CREATE INDEX knowledge_chunks_search ON knowledge_chunks USING gin (search);
