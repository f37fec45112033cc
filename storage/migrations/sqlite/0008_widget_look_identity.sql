-- Widgets get their look and texts (appearance: only what the org chose, as a JSON object; the
-- rest takes its defaults) and identity verification: the secret that visitors' user_hash
-- values are HMACs with, and whether every widget session must carry one.
ALTER TABLE widgets ADD COLUMN appearance TEXT NOT NULL DEFAULT '{}';
ALTER TABLE widgets ADD COLUMN identity_secret TEXT;
ALTER TABLE widgets ADD COLUMN identity_required INTEGER NOT NULL DEFAULT 0;
