CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');
CREATE RULE ev WITH (TOPIC = 'out/ev') AS
SELECT dev.id AS id, temp, lag(temp) AS prev, temp - lag(temp) AS delta, changed_col(true, status) AS st_changed, had_changed(true, status) AS had
FROM s;
CREATE RULE per_dev WITH (TOPIC = 'out/per_dev') AS
SELECT dev.id AS id, avg(temp) AS avg_temp, count(*) AS n FROM s GROUP BY dev.id, TumblingWindow('1m') ORDER BY avg_temp DESC LIMIT 1;
CREATE RULE hot WITH (TOPIC = 'out/hot') AS
SELECT id, temp FROM ev WHERE delta > 0;
CREATE RULE rows_sorted WITH (TOPIC = 'out/rows') AS
SELECT dev.id AS id, temp FROM s GROUP BY TumblingWindow('1m') ORDER BY temp DESC LIMIT 2;
