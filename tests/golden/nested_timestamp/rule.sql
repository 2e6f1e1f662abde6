-- Issue 16 item 8: TIMESTAMP may name a nested field ('meta.ts').
CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'meta.ts', MAXOUTOFORDERNESS = '0s');
CREATE RULE r WITH (TOPIC = 'out/r') AS
SELECT count(*) AS n, sum(v) AS total, window_start() AS ws FROM s GROUP BY TumblingWindow('10s');
