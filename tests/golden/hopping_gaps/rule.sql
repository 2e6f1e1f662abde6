CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

CREATE RULE r WITH (TOPIC = 'out/r', LATE_TOPIC = 'out/r/late') AS
SELECT window_start() AS ws, window_end() AS we, count(*) AS n, collect(v) AS vs
FROM s GROUP BY HoppingWindow('5s', '10s');
