-- Example: risk: a transaction over 1000 within 10 minutes of a location change.
-- Tested by tests/golden/pattern_location_change_risk (input and expected output there).

CREATE STREAM transactions WITH (TOPIC = 'bank/+/tx', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

-- Risk: a transaction over 1000 within 10 minutes after the account's location changed.
CREATE RULE risky_tx WITH (TOPIC = 'risk/location_change_large_tx') AS
SELECT account, from_location, to_location, changed_at, amount, tx_at
FROM transactions
MATCH_RECOGNIZE (
  PARTITION BY account
  ORDER BY ts
  MEASURES PREV(C.location) AS from_location, C.location AS to_location, C.ts AS changed_at,
           T.amount AS amount, T.ts AS tx_at
  PATTERN (C X* T)
  WITHIN '10m'
  DEFINE C AS location <> PREV(location),
         X AS amount <= 1000,
         T AS amount > 1000
);
