-- Issue 16 item 12: stddev/variance are the sample versions (n - 1); the population ones
-- (StreamSQL's and eKuiper's stddev/var) are stddev_pop/var_pop. See docs/language.md.
CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');
CREATE RULE r WITH (TOPIC = 'out/r') AS
SELECT stddev(v) AS sd, stddev_samp(v) AS sd_samp, stddev_pop(v) AS sd_pop,
       variance(v) AS var_s, var(v) AS var_alias, var_samp(v) AS var_samp, var_pop(v) AS var_p
FROM s GROUP BY TumblingWindow('1m');
