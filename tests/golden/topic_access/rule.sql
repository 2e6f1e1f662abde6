CREATE STREAM telemetry WITH (TOPIC = 'sites/+/devices/+/telemetry', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

-- topic() and topic_part(n) in SELECT and WHERE; meta(topic) is eKuiper's spelling.
CREATE RULE per_event WITH (TOPIC = 'out/per_event') AS
SELECT topic() AS t, meta(topic) AS m, topic_part(2) AS site, topic_part(-2) AS device,
       topic_part(9) AS none, temp
FROM telemetry
WHERE topic_part(4) = 'd7' AND temp > 20;

-- In a window, topic_part(n) as a group key and topic() in the output (the group's last row).
CREATE RULE per_window WITH (TOPIC = 'out/per_window') AS
SELECT topic_part(4) AS device, topic() AS last_topic, count(*) AS n, max(temp) AS max_temp
FROM telemetry
GROUP BY topic_part(4), TumblingWindow('1m');

-- A rule reading FROM another rule sees the topic that rule published on.
CREATE RULE chained WITH (TOPIC = 'out/chained') AS
SELECT topic() AS upstream_topic, temp FROM per_event;
