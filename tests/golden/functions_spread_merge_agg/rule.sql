-- Issue 16 functions: eKuiper's sample/population spread names (stddevs, vars) with the explicit
-- population ones (stddevp, varp), merge_agg over object fields, and the 1-based text functions
-- (indexof, substring, element_at) a port from eKuiper must read differently.
CREATE STREAM demo WITH (TOPIC = 'demo/+/in', FORMAT = 'json');
CREATE RULE spread WITH (TOPIC = 'out/spread') AS
SELECT stddevs(v) AS sd_sample, stddevp(v) AS sd_pop, vars(v) AS var_sample, varp(v) AS var_pop,
       merge_agg(attrs) AS attrs, lpad(to_string(count(v)), 3, '0') AS n
FROM demo GROUP BY COUNTWINDOW(4);
CREATE RULE labels WITH (TOPIC = 'out/labels') AS
SELECT name, indexof(name, '-') AS dash, substring(name, indexof(name, '-') + 1) AS num,
       regexp_extract(name, '[0-9]+') AS digits, element_at(split(name, '-'), -1) AS last_part
FROM demo WHERE name IS NOT NULL AND v > 1;
