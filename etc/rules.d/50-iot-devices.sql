-- 50-iot-devices.sql: IoT device status (brief analysis 5: online rate, data-collection
-- frequency, anomaly detection, battery level, signal strength). Reads the `devices` stream
-- declared in 00-device-filter.sql (topic devices/+/telemetry). One report per message:
--   {"device_id": "device_001", "status": "online", "battery": 85, "signal": -70, "timestamp": "..."}
--
-- Knobs (change them in the SQL below; keep the copies of a threshold equal):
--   * analysis window ........... TumblingWindow('30m')
--   * window length in minutes .. 30 (divisor of data_collection_frequency; keep equal to the window)
--   * online device ............. reported status = 'online' at least once in the window
--   * offline device ............ reported status = 'offline' at least once in the window
--   * low battery ............... battery <= 20 (percent)
--   * weak signal ............... signal <= -90 (dBm)
--   * abnormal device ........... offline OR low battery OR weak signal
--
-- data_collection_frequency = reports per device per minute in the window.

CREATE RULE device_status WITH (TOPIC = 'analytics/devices', QOS = 1) AS
SELECT window_start() AS window_start,
       window_end() AS window_end,
       count(DISTINCT device_id) FILTER (WHERE status = 'online') AS online_devices,
       count(DISTINCT device_id) AS total_devices,
       round(count(DISTINCT device_id) FILTER (WHERE status = 'online')
             / count(DISTINCT device_id), 2) AS online_rate,
       round(avg(battery), 2) AS avg_battery,
       round(avg(signal), 2) AS avg_signal,
       collect(DISTINCT device_id) FILTER (WHERE status = 'offline') AS offline_devices,
       count(*) AS reports,
       round(count(*) / count(DISTINCT device_id) / 30, 4) AS data_collection_frequency,
       count(DISTINCT device_id) FILTER (WHERE status = 'offline' OR battery <= 20 OR signal <= -90)
         AS abnormal_devices,
       collect(DISTINCT device_id) FILTER (WHERE battery <= 20) AS low_battery_devices,
       collect(DISTINCT device_id) FILTER (WHERE signal <= -90) AS weak_signal_devices
FROM devices
WHERE device_id IS NOT NULL
GROUP BY TumblingWindow('30m');
