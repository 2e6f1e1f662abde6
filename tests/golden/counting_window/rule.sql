CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');
CREATE RULE r WITH (TOPIC = 'out/r') AS
SELECT count(*) AS n, collect(v) AS vs, window_start() AS ws, window_end() AS we FROM s GROUP BY CountingWindow(3);
CREATE RULE r2 WITH (TOPIC = 'out/r2') AS
SELECT count(*) AS n, collect(v) AS vs FROM s GROUP BY CountingWindow(4, 2);
CREATE RULE r3 WITH (TOPIC = 'out/r3') AS
SELECT k, count(*) AS n, collect(v) AS vs FROM s GROUP BY k, CountingWindow(2);
