-- Issue 16: `demo.age` in a rule FROM demo is the field age (eKuiper's form), with or without an
-- alias; any other qualifier is a JSON field (meta.ts); `->` never names the stream.
CREATE STREAM demo WITH (TOPIC = 'demo/+/in', FORMAT = 'json');
CREATE RULE qualified WITH (TOPIC = 'out/qualified') AS
SELECT demo.age, demo.name.first AS first, meta.ts AS ts, demo.meta.src AS src
FROM demo WHERE demo.age > 30;
CREATE RULE aliased WITH (TOPIC = 'out/aliased') AS
SELECT d.age AS a, demo.age AS b, d.meta.src AS src FROM demo AS d;
CREATE RULE grouped WITH (TOPIC = 'out/grouped') AS
SELECT demo.kind, count(*) AS n, max(d2.age) AS oldest FROM demo d2 GROUP BY kind, CountingWindow(3) ORDER BY d2.kind;
CREATE RULE same_name WITH (TOPIC = 'out/same_name') AS
SELECT demo.demo.x AS via_dot, demo->x AS via_arrow, demo['x'] AS via_index FROM demo;
