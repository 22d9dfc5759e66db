-- "Log out everywhere": access tokens issued before this instant are refused (and every
-- refresh token of the user is revoked at the same time). NULL: never used.
ALTER TABLE users ADD COLUMN sessions_valid_after timestamptz;
