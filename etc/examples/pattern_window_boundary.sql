-- Example: pattern matches counted per 10-minute window; a match belongs to the window of its last row.
-- Tested by tests/golden/pattern_window_boundary (input and expected output there).

CREATE STREAM clicks WITH (TOPIC = 'shop/+/clicks', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

-- Conversions counted per 10-minute window. A match belongs to the window of its last row: u2 and
-- u3 log in before 10:10 and purchase after it, so they count for [10:10, 10:20).
CREATE RULE conversions_10m WITH (TOPIC = 'analytics/conversions_10m') AS
SELECT window_start() AS ws, count(*) AS conversions, collect(user_id) AS users
FROM clicks
MATCH_RECOGNIZE (
  PARTITION BY user_id
  ORDER BY ts
  MEASURES P.ts AS purchase_at
  PATTERN (L X* P)
  WITHIN '30m'
  DEFINE L AS event = 'login', X AS event <> 'purchase', P AS event = 'purchase'
)
GROUP BY TumblingWindow('10m');
