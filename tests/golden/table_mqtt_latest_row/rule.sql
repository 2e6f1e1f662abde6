-- A table fed by MQTT (retained device metadata): the latest message per KEY is the row; the
-- messages on its topic go to the table, not to a stream.
CREATE STREAM readings WITH (TOPIC = 'sensors/+/reading');
CREATE TABLE device_meta (device, room) WITH (TYPE = 'mqtt', TOPIC = 'sensors/+/meta', KEY = 'device');

CREATE RULE labelled WITH (TOPIC = 'out/labelled') AS
SELECT device, room, v FROM readings r LEFT JOIN device_meta m ON r.device = m.device;
