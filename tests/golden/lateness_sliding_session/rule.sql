CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s', ALLOWEDLATENESS = '10s');
CREATE RULE sl WITH (TOPIC = 'out/sl') AS
SELECT window_start() AS ws, count(*) AS n FROM s GROUP BY SlidingWindow('10s', '5s');
CREATE RULE se WITH (TOPIC = 'out/se') AS
SELECT window_start() AS ws, window_end() AS we, count(*) AS n FROM s GROUP BY SessionWindow('5s');
