CREATE RULE agg AS SELECT count(DISTINCT user_id), sum(x) FILTER (WHERE x > 0),
  lag(temp) OVER (PARTITION BY device), percentile(v, 0.95), -9223372036854775808, 1e3, .5
FROM s GROUP BY SessionWindow('5m'), user_id;
