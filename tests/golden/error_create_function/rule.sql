CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json');
CREATE FUNCTION twice(x) AS x * y;
CREATE FUNCTION round(x) AS x;
CREATE FUNCTION total(x) AS sum(x);
CREATE FUNCTION f(a) AS a + 1;
CREATE RULE r WITH (TOPIC = 'out/r') AS
SELECT f(v, 2) AS w FROM s;
