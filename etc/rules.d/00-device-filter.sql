-- Device telemetry: the stream every IoT rule reads, and the first rule of the gateway.
--
-- Devices publish JSON on devices/<id>/telemetry, e.g.
--   {"device_id":"device_002","status":"offline","battery":20,"signal":-90,
--    "timestamp":"2024-01-15T10:05:00Z"}
-- Event time comes from "timestamp"; events may arrive up to 5 s out of order.
CREATE STREAM devices WITH (TOPIC='devices/+/telemetry', FORMAT='json', TIMESTAMP='timestamp', MAXOUTOFORDERNESS='5s');

-- Every reading with a battery under 30 % is republished, trimmed to the fields an operator
-- needs, on alerts/low_battery (QoS 1 so the alert survives a flaky subscriber link).
CREATE RULE low_battery WITH (TOPIC='alerts/low_battery', QOS=1) AS
SELECT device_id, battery, status
FROM devices
WHERE battery < 30;
