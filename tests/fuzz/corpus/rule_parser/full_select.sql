CREATE RULE r AS SELECT DISTINCT a.b.c, arr[0], m['k'], "quoted col", `tick`
FROM s WHERE x BETWEEN 1 AND 10 AND y NOT IN (1, 2, 'a') OR z LIKE 'a%' AND w IS NOT NULL
GROUP BY k, SlidingWindow('1m', '10s') HAVING count(*) > 2 ORDER BY k DESC, a ASC LIMIT 5;
