-- The A/B pair a run belongs to (`codspeed ab` measures a base and a head
-- interleaved and uploads them as two runs): its side ("base" or "head"),
-- the client run id (run_key) of the other side, and what the user called
-- this side (a git ref, a command). Taken from the first part's upload
-- metadata (runPart.metadata.pairRole, pairWith, pairLabel); empty for a run
-- that is no side of a pair.

-- +goose Up
ALTER TABLE runs ADD COLUMN pair_role TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN pair_with TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN pair_label TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE runs DROP COLUMN pair_label;
ALTER TABLE runs DROP COLUMN pair_with;
ALTER TABLE runs DROP COLUMN pair_role;
