-- Functions from a plugin (examples/plugins/iot_functions.c, loaded with --plugins-dir) called
-- like built-ins: a scalar per event, two aggregates per room and 10-minute window.
CREATE STREAM rooms WITH (TOPIC = 'rooms/+/climate', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

CREATE RULE dew WITH (TOPIC = 'rooms/dew') AS
SELECT room, round(dew_point(temp, rh), 2) AS dew_point FROM rooms WHERE rh > 0;

CREATE RULE climate WITH (TOPIC = 'rooms/climate') AS
SELECT room, round(geomean(co2), 3) AS co2_geomean, rate_per_minute(temp) AS warming_per_min,
       count(*) AS n
FROM rooms GROUP BY room, TumblingWindow('10m') ORDER BY room;
