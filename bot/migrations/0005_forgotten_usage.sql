-- Users who used /forget-me while they had usage this month: those rows stay linked to them until the
-- month ends, so their own budgets still count them (a /forget-me must not reset a limit), and are then
-- folded into anonymous totals like the older ones were at once (Store.anonymize_due_usage).
CREATE TABLE forgotten_usage (
    user_id      INTEGER PRIMARY KEY,
    forgotten_at REAL    NOT NULL
);
