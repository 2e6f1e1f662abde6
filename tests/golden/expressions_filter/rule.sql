CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

CREATE RULE r WITH (TOPIC = 'out/r') AS
SELECT id,
       a + b AS add, a - b AS sub, a * b AS mul, a / b AS div, a % b AS rem,
       CASE WHEN a > b THEN 'gt' WHEN a = b THEN 'eq' ELSE 'lt' END AS cmp,
       name LIKE 'sen%' AS like_sen, a BETWEEN 1 AND 5 AS in_range, b IN (2, 4) AS b_even_small,
       NOT (a > 3) AS not_gt3, upper(name) AS up, concat(name, '-', id) AS tag, round(a / 3, 2) AS third
FROM s
WHERE a IS NOT NULL AND (name <> 'skip' OR a > 100);
