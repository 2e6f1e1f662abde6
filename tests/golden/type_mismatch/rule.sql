CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');
CREATE RULE agg WITH (TOPIC = 'out/agg') AS
SELECT count(*) AS n, count(v) AS n_v, sum(v) AS total, avg(v) AS mean, min(v) AS lo, max(v) AS hi
FROM s GROUP BY TumblingWindow('1m');
CREATE RULE rows WITH (TOPIC = 'out/rows') AS
SELECT id, v * 2 AS doubled, v > 2 AS gt2, v = '3' AS eq_str3, upper(v) AS up, cast(v, 'double') AS as_double
FROM s;
