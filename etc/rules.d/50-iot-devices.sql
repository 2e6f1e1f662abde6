-- 50-iot-devices.sql: IoT device status (brief analysis 5: online rate, data-collection
-- frequency, anomaly detection, battery level, signal strength). Reads the `devices` stream
-- declared in 00-device-filter.sql (topic devices/+/telemetry). One report per message:
--   {"device_id": "device_001", "status": "online", "battery": 85, "signal": -70, "timestamp": "..."}
--
-- Two stages, as SQL's two-level aggregation: `device_window_state` reduces each device's
-- reports in a window to its state there, `device_status` counts devices over those states.
-- A device's state in a window is its LATEST report (by event time; max_by(x, event_time())):
-- a device that reported online, then offline, is offline, never counted as both.
--
-- Knobs (change them in the SQL below; keep the copies of a threshold equal):
--   * analysis window ........... TumblingWindow('30m') (both rules: equal windows line up)
--   * window length in minutes .. 30 (divisor of data_collection_frequency; keep equal to the window)
--   * online / offline device ... latest status in the window = 'online' / 'offline'
--   * low battery ............... latest battery <= 20 (percent)
--   * weak signal ............... latest signal <= -90 (dBm)
--   * abnormal device ........... offline OR low battery OR weak signal
--
-- data_collection_frequency = reports per device per minute in the window; avg_battery and
-- avg_signal average every report of the window (not only the latest ones).

CREATE RULE device_window_state WITH (TOPIC = 'analytics/devices/state', QOS = 1) AS
SELECT device_id,
       max_by(status, event_time()) AS status,
       max_by(battery, event_time()) AS battery,
       max_by(signal, event_time()) AS signal,
       count(*) AS reports,
       sum(battery) AS battery_sum,
       count(battery) AS battery_reports,
       sum(signal) AS signal_sum,
       count(signal) AS signal_reports
FROM devices
WHERE device_id IS NOT NULL
GROUP BY device_id, TumblingWindow('30m');

CREATE RULE device_status WITH (TOPIC = 'analytics/devices', QOS = 1) AS
SELECT window_start() AS window_start,
       window_end() AS window_end,
       count(*) FILTER (WHERE status = 'online') AS online_devices,
       count(*) AS total_devices,
       round(count(*) FILTER (WHERE status = 'online') / count(*), 2) AS online_rate,
       round(sum(battery_sum) / sum(battery_reports), 2) AS avg_battery,
       round(sum(signal_sum) / sum(signal_reports), 2) AS avg_signal,
       collect(device_id) FILTER (WHERE status = 'offline') AS offline_devices,
       sum(reports) AS reports,
       round(sum(reports) / count(*) / 30, 4) AS data_collection_frequency,
       count(*) FILTER (WHERE status = 'offline' OR battery <= 20 OR signal <= -90)
         AS abnormal_devices,
       collect(device_id) FILTER (WHERE battery <= 20) AS low_battery_devices,
       collect(device_id) FILTER (WHERE signal <= -90) AS weak_signal_devices
FROM device_window_state
GROUP BY TumblingWindow('30m');
