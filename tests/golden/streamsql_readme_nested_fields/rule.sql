-- StreamSQL README, "Nested Field Access" (window_start()/window_end() of a processing-time
-- window left out: they depend on the clock of the run).
CREATE STREAM stream WITH (TOPIC = 'sensors/+/data', FORMAT = 'json');
CREATE RULE nested WITH (TOPIC = 'out/nested') AS
SELECT device.info.name as device_name,
       device.location,
       AVG(sensor.temperature) as avg_temp,
       COUNT(*) as sensor_count
FROM stream
WHERE device.info.type = 'temperature'
GROUP BY device.location, TumblingWindow('5s');
