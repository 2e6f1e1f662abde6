CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');
CREATE RULE fields WITH (TOPIC = 'out/fields') AS
SELECT id, v, tag FROM s WHERE v > 0;
CREATE RULE whole WITH (TOPIC = 'out/whole') AS
SELECT id, payload.v AS nested_v FROM s;
CREATE RULE agg WITH (TOPIC = 'out/agg') AS
SELECT count(*) AS n, sum(v) AS total FROM s GROUP BY TumblingWindow('1m');
