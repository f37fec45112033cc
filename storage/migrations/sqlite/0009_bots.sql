-- Bots: an org's first responders (kind knowledge, llm or webhook) with their hand-off
-- rules. handoff_phrases is a JSON array; llm_* are set for kind llm (llm_api_key is never
-- shown), webhook_* for kind webhook (webhook_secret signs its deliveries). A widget names
-- its bot; a conversation records the bot it started with.
CREATE TABLE bots (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs (id),
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    confidence_threshold REAL NOT NULL,
    unknown_answer TEXT NOT NULL,
    handoff_after INTEGER NOT NULL,
    handoff_phrases TEXT NOT NULL,
    fallback_answer TEXT NOT NULL,
    handoff_on_failure INTEGER NOT NULL,
    timeout_seconds INTEGER NOT NULL,
    llm_base_url TEXT,
    llm_model TEXT,
    llm_system_prompt TEXT,
    llm_api_key TEXT,
    webhook_url TEXT,
    webhook_secret TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX bots_org ON bots (org_id, created_at);

ALTER TABLE widgets ADD COLUMN bot_id TEXT;
ALTER TABLE conversations ADD COLUMN bot_id TEXT;
