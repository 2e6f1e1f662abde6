CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

CREATE RULE r WITH (TOPIC = 'out/r') AS
SELECT window_start() AS ws, window_end() AS we, count(*) AS n, sum(v) AS total
FROM s GROUP BY SlidingWindow('10s', '5s');
