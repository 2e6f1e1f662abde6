CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

CREATE RULE r WITH (TOPIC = 'out/r') AS
SELECT count(*) AS n, count(DISTINCT user) AS users,
       count(*) FILTER (WHERE kind = 'buy') AS buys,
       count(DISTINCT user) FILTER (WHERE kind = 'buy') AS buyers,
       sum(amount) FILTER (WHERE kind = 'buy') AS revenue,
       sum(amount) FILTER (WHERE kind = 'refund') AS refunds,
       round(count(DISTINCT user) FILTER (WHERE kind = 'buy') / count(DISTINCT user), 4) AS conversion
FROM s GROUP BY TumblingWindow('1m');
