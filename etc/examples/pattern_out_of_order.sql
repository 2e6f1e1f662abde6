-- Example: the conversion pattern over a stream whose events arrive out of order (MAXOUTOFORDERNESS 30m).
-- Tested by tests/golden/pattern_out_of_order (input and expected output there).

CREATE STREAM clicks WITH (TOPIC = 'shop/+/clicks', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '30m');

-- Conversion: a login followed by a purchase of the same user within 30 minutes; other events
-- may come in between (X: anything but a purchase).
CREATE RULE conversion WITH (TOPIC = 'analytics/conversion') AS
SELECT user_id, login_at, purchase_at, amount, steps
FROM clicks
MATCH_RECOGNIZE (
  PARTITION BY user_id
  ORDER BY ts
  MEASURES L.ts AS login_at, P.ts AS purchase_at, P.amount AS amount, COUNT(*) AS steps
  PATTERN (L X* P)
  WITHIN '30m'
  DEFINE L AS event = 'login',
         X AS event <> 'purchase',
         P AS event = 'purchase'
);
