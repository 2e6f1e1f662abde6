-- Example: temperature rising on 5 consecutive readings.
-- Tested by tests/golden/pattern_rising_5 (input and expected output there).

CREATE STREAM temps WITH (TOPIC = 'sensors/+/temp', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

-- Temperature rising on 5 consecutive readings: a start reading S and four readings each above the
-- one before (S is not defined, so any reading can start).
CREATE RULE temp_rising WITH (TOPIC = 'analytics/temp_rising') AS
SELECT sensor, from_ts, to_ts, start_temp, end_temp, rise
FROM temps
MATCH_RECOGNIZE (
  PARTITION BY sensor
  ORDER BY ts
  MEASURES S.ts AS from_ts, LAST(R.ts) AS to_ts, S.temp AS start_temp, LAST(R.temp) AS end_temp,
           LAST(R.temp) - S.temp AS rise
  PATTERN (S R{4})
  DEFINE R AS temp > PREV(temp)
);
