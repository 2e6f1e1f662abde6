-- An interval join feeding a window: attributed clicks per ad and 10 minutes.
CREATE STREAM clicks WITH (TOPIC = 'ads/clicks', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');
CREATE STREAM impressions WITH (TOPIC = 'ads/impressions', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

CREATE RULE per_ad WITH (TOPIC = 'out/per_ad') AS
SELECT c.ad, window_start() AS ws, count(*) AS attributed, max(c.ts - i.ts) AS slowest
FROM clicks AS c JOIN impressions AS i
  ON i.ad = c.ad AND c.ts BETWEEN i.ts AND i.ts + INTERVAL '300' SECONDS
GROUP BY c.ad, TumblingWindow('10m')
ORDER BY ad;
