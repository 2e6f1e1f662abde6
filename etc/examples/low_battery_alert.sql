-- low_battery_alert.sql: one alert per device while its battery is under 20 %, cleared once the
-- device has reported 20 % or more for 5 minutes of event time. scripts/demo.sh loads it next to
-- etc/rules.d so the dashboard's Alerts view shows alerts being raised and cleared. Reads the
-- `devices` stream declared in etc/rules.d/00-device-filter.sql.
CREATE ALERT battery_low WITH (TOPIC = 'alerts/battery_low', SEVERITY = 'warning',
                               CLEAR_AFTER = '5m', KEY = 'device_id') AS
SELECT device_id, battery FROM devices WHERE battery < 20;
