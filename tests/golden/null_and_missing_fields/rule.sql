CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

CREATE RULE agg WITH (TOPIC = 'out/agg') AS
SELECT count(*) AS n_all, count(v) AS n_v, sum(v) AS total, avg(v) AS mean, min(v) AS lo, max(v) AS hi,
       count(w) AS n_w, sum(w) AS sum_w, avg(w) AS avg_w, collect(v) AS vs,
       coalesce(max(w), -1) AS w_or_default
FROM s GROUP BY TumblingWindow('1m');
CREATE RULE rows WITH (TOPIC = 'out/rows') AS
SELECT id, v, v IS NULL AS v_is_null, coalesce(v, 0) AS v_or_zero, v + 1 AS v_plus_one
FROM s;
