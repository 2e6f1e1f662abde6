-- Example: an early warning raised BEFORE a threshold is crossed ("battery below 10 % within
-- 2 h"), and a per-device forecast with its 95 % band published on a per-device topic.
-- Tested by tests/golden/forecast_battery (input and expected output there).

CREATE STREAM batteries WITH (TOPIC = 'devices/+/battery', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

-- Per device and hour: the level expected 2 h after the hour's last reading, with a 95 % band
-- (least squares over the hour's readings), on analytics/battery/<device>.
CREATE RULE battery_forecast WITH (TOPIC = 'analytics/battery/{device_id}') AS
SELECT device_id,
       round(forecast_linear(battery, '2h').value, 1) AS expected_in_2h,
       round(forecast_linear(battery, '2h').lower, 1) AS low_95,
       round(forecast_linear(battery, '2h').upper, 1) AS high_95
FROM batteries
GROUP BY device_id, TumblingWindow('1h')
ORDER BY device_id;

-- Raised while the battery is still above 10 % but its trend (least squares over the device's
-- last 64 readings) reaches 10 % within 2 hours; cleared 10 minutes after that stops holding
-- (charging, or a flatter trend).
CREATE ALERT battery_low_soon WITH (TOPIC = 'alerts/battery_low_soon', SEVERITY = 'warning',
                                    KEY = 'device_id', CLEAR_AFTER = '10m') AS
SELECT device_id, battery,
       round(time_to_threshold(battery, 10) OVER (PARTITION BY device_id) / 60) AS minutes_to_10
FROM batteries
WHERE battery > 10 AND time_to_threshold(battery, 10) OVER (PARTITION BY device_id) <= 7200;
