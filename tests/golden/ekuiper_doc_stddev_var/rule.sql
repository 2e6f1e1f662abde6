-- eKuiper docs (aggregate functions) and StreamSQL docs (functions guide): stddev and var are the
-- POPULATION versions there, stddevs and vars the sample ones. Here stddev/variance are the
-- SAMPLE versions: the peers' stddev is stddev_pop, their var is var_pop; their stddevs and vars
-- mean the same here.
CREATE STREAM demo WITH (TOPIC = 'demo/+/in', FORMAT = 'json');
CREATE RULE spread WITH (TOPIC = 'out/spread') AS
SELECT stddev_pop(v) AS peer_stddev, var_pop(v) AS peer_var,
       stddevs(v) AS peer_stddevs, vars(v) AS peer_vars,
       stddev_samp(v) AS stddev_samp, var_samp(v) AS var_samp
FROM demo GROUP BY COUNTWINDOW(8);
