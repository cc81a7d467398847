-- The `hook` role: a token that may only post alerts to the Alertmanager hook.

ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_role_check;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_role_check
    CHECK (role IN ('viewer', 'editor', 'admin', 'hook'));
