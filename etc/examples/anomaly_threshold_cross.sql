-- Example: threshold with hysteresis (threshold_cross) against a naive threshold.
-- Tested by tests/golden/anomaly_threshold_cross (input and expected output there).

CREATE STREAM motors WITH (TOPIC = 'sensors/+/motor', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

-- Hysteresis: hot from 80 up, and it stays hot until the temperature is back at 70 or below.
CREATE RULE motor_hot WITH (TOPIC = 'analytics/motor_hot') AS
SELECT sensor, temp,
       threshold_cross(temp, 80, 70) OVER (PARTITION BY sensor) AS hot,
       temp >= 80 AS naive_hot
FROM motors;
