-- eKuiper docs, array functions: the documented calls on array literals ([...]), which the parser
-- reads as array_create(...). eKuiper's "b" is a string there; here "b" is a quoted column name,
-- so string elements are written 'b'.
CREATE STREAM demo WITH (TOPIC = 'demo/+/in', FORMAT = 'json');
CREATE RULE literals WITH (TOPIC = 'out/literals') AS
SELECT array_sort([3, 2, 'b', 'a']) AS sorted, array_flatten([[1, 4], [2, 3]]) AS flat,
       array_join([1, 2, 3], ',') AS joined, array_contains([1, 2], v) AS has_v,
       [v, v * 10, []] AS built, [10, 20, 30][1] AS second
FROM demo;
