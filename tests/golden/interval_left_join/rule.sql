-- LEFT JOIN of two streams with a time bound: a click without an impression of its ad in the five
-- minutes up to it comes out once, with the impression NULL, when the impressions' watermark
-- says none can come any more.
CREATE STREAM clicks WITH (TOPIC = 'ads/clicks', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');
CREATE STREAM impressions WITH (TOPIC = 'ads/impressions', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

CREATE RULE attributed WITH (TOPIC = 'out/attributed') AS
SELECT c.id AS click, i.id AS impression, c.ad
FROM clicks c LEFT JOIN impressions i
  ON c.ad = i.ad AND i.ts BETWEEN c.ts - INTERVAL '5' MINUTE AND c.ts;
