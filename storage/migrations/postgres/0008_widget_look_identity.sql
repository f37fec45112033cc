-- Widgets get their look and texts (appearance: only what the org chose, as a JSON object; the
-- rest takes its defaults) and identity verification: the secret that visitors' user_hash
-- values are HMACs with, and whether every widget session must carry one.
ALTER TABLE widgets ADD COLUMN appearance jsonb NOT NULL DEFAULT '{}';
ALTER TABLE widgets ADD COLUMN identity_secret text;
ALTER TABLE widgets ADD COLUMN identity_required boolean NOT NULL DEFAULT false;
