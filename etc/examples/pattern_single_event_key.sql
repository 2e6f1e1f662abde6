-- Example: two-row and one-row patterns over keys with one and two events.
-- Tested by tests/golden/pattern_single_event_key (input and expected output there).

CREATE STREAM readings WITH (TOPIC = 'sensors/+/reading', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

CREATE RULE pairs WITH (TOPIC = 'analytics/pairs') AS
SELECT k, first_v, second_v FROM readings
MATCH_RECOGNIZE (PARTITION BY k ORDER BY ts MEASURES A.v AS first_v, B.v AS second_v
                 PATTERN (A B) DEFINE B AS v > A.v);

CREATE RULE singles WITH (TOPIC = 'analytics/singles') AS
SELECT k, v FROM readings
MATCH_RECOGNIZE (PARTITION BY k ORDER BY ts MEASURES A.v AS v PATTERN (A) DEFINE A AS v > 0);
