-- Example: rules reading FROM an alert, as they read FROM a rule. Each row of an alert is one
-- transition, with the fields of the alert message (alert, key, severity, state, values,
-- first_seen, last_seen, id, time) and the event time of the transition.
-- Tested by tests/golden/alert_chained (input and expected output there).

CREATE STREAM line_temps WITH (TOPIC = 'lines/+/temp', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

-- Per production line: raised above 80, cleared after a minute at or below 80.
CREATE ALERT line_overheat WITH (TOPIC = 'alerts/line_overheat', SEVERITY = 'warning',
                                 CLEAR_AFTER = '1m', KEY = 'line') AS
SELECT line, temp FROM line_temps WHERE temp > 80;

-- Incident log: one row per resolved overheat, with when it started and its last hot reading.
CREATE RULE line_overheat_resolved WITH (TOPIC = 'log/line_overheat') AS
SELECT key AS line, id, first_seen, last_seen, time AS resolved_at, values.temp AS last_hot_temp
FROM line_overheat WHERE state = 'cleared';

-- Escalation, an alert over an alert: two or more lines raised within the same 10 minutes.
-- Evaluated once per 10-minute window with raises; it clears when a window has fewer, or after
-- 20 minutes without a window that has two.
CREATE ALERT plant_overheat WITH (TOPIC = 'alerts/plant_overheat', SEVERITY = 'critical',
                                  EXPIRE_AFTER = '20m') AS
SELECT count(*) AS lines_raised FROM line_overheat WHERE state = 'raised'
GROUP BY TumblingWindow('10m') HAVING count(*) >= 2;
