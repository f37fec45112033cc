-- Bots: an org's first responders (kind knowledge, llm or webhook) with their hand-off
-- rules. llm_* are set for kind llm (llm_api_key is never shown), webhook_* for kind webhook
-- (webhook_secret signs its deliveries). A widget names its bot; a conversation records the
-- bot it started with.
CREATE TABLE bots (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES orgs (id),
    name text NOT NULL,
    kind text NOT NULL,
    confidence_threshold double precision NOT NULL,
    unknown_answer text NOT NULL,
    handoff_after integer NOT NULL,
    handoff_phrases jsonb NOT NULL,
    fallback_answer text NOT NULL,
    handoff_on_failure boolean NOT NULL,
    timeout_seconds integer NOT NULL,
    llm_base_url text,
    llm_model text,
    llm_system_prompt text,
    llm_api_key text,
    webhook_url text,
    webhook_secret text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX bots_org ON bots (org_id, created_at);

ALTER TABLE widgets ADD COLUMN bot_id uuid;
ALTER TABLE conversations ADD COLUMN bot_id uuid;
