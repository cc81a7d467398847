-- The console's re-authentication (docs/console.md): when the session's user last confirmed
-- their password or second factor. Destructive actions ask for a confirmation within the last
-- 5 minutes. Integer milliseconds since the Unix epoch, UTC; NULL until the first confirmation.
ALTER TABLE console_sessions ADD COLUMN confirmed_at BIGINT;
