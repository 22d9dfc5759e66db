-- "Log out everywhere" and a password reset end every session by counting the user's session
-- epoch up: an access token carries the epoch it was issued in and is refused once the count has
-- moved on. This replaces comparing the token's whole-second `iat` with a timestamp, which let a
-- token issued in the same second as the logout live on. Users who had logged out everywhere
-- start at 1, so tokens issued before this migration (epoch 0) are refused for them.
--
-- Expand only (docs/DEPLOY.md): `sessions_valid_after` stays while API tasks of the previous
-- release still read it during a rolling deploy; no code reads or writes it any more, and the
-- next release's migration drops it.
ALTER TABLE users ADD COLUMN session_epoch integer NOT NULL DEFAULT 0;
UPDATE users SET session_epoch = 1 WHERE sessions_valid_after IS NOT NULL;
COMMENT ON COLUMN users.sessions_valid_after IS 'Unused since session_epoch; dropped by the next release.';
