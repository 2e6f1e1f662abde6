-- Example: a device reporting offline three times in a row within 5 minutes (MATCH_RECOGNIZE).
-- Tested by tests/golden/pattern_offline_3x (input and expected output there).

CREATE STREAM device_status WITH (TOPIC = 'devices/+/status', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

-- A device reporting `offline` three times in a row within 5 minutes.
CREATE RULE offline_3x WITH (TOPIC = 'alerts/devices/offline') AS
SELECT device, first_offline, last_offline, times
FROM device_status
MATCH_RECOGNIZE (
  PARTITION BY device
  ORDER BY ts
  MEASURES FIRST(OFF.ts) AS first_offline, LAST(OFF.ts) AS last_offline, COUNT(OFF.*) AS times
  ONE ROW PER MATCH
  AFTER MATCH SKIP PAST LAST ROW
  PATTERN (OFF{3})
  WITHIN '5m'
  DEFINE OFF AS status = 'offline'
);
