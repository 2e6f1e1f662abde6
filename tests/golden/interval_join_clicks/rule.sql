-- Flink's interval join: a click is paired with the impressions of its ad shown in the five
-- minutes up to it (event time on both sides).
CREATE STREAM clicks WITH (TOPIC = 'ads/clicks', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');
CREATE STREAM impressions WITH (TOPIC = 'ads/impressions', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

CREATE RULE attributed WITH (TOPIC = 'out/attributed') AS
SELECT c.id AS click, i.id AS impression, c.ad, c.ts - i.ts AS seconds_between
FROM clicks c JOIN impressions i
  ON c.ad = i.ad AND i.ts BETWEEN c.ts - INTERVAL '5' MINUTE AND c.ts;
