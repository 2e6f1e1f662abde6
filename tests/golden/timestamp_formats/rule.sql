CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

CREATE RULE per10s WITH (TOPIC = 'out/per10s') AS
SELECT window_start() AS ws, window_end() AS we, collect(id) AS ids
FROM s GROUP BY TumblingWindow('10s');
CREATE RULE per_min WITH (TOPIC = 'out/per_min') AS
SELECT window_start() AS ws, count(*) AS n FROM s GROUP BY TumblingWindow('1m');
