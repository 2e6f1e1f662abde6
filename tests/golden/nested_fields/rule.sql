CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

CREATE RULE r WITH (TOPIC = 'out/r') AS
SELECT id, a.b.c AS abc, a.b AS ab, arr[0] AS first, arr[2] AS third, arr[-1] AS last, arr[5] AS oob,
       m['k'] AS mk, m['x y'] AS mxy, arr[0] + a.b.c AS mixed
FROM s;
