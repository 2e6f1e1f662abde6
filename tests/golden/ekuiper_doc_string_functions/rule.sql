-- eKuiper docs, string functions: the documented examples (split_value, format) and one call of
-- each other documented function on the same record.
CREATE STREAM demo WITH (TOPIC = 'demo/+/in', FORMAT = 'json');
CREATE RULE strings WITH (TOPIC = 'out/strings') AS
SELECT split_value('/test/device001/message', '/', 0) AS sv0,
       split_value('/test/device001/message', '/', 3) AS sv3,
       format_number(12332.1234567, 4) AS fmt,
       concat(a, '-', b) AS cat,
       endswith(b, 'ld') AS ends,
       startswith(b, 'wo') AS starts,
       indexof(b, 'rl') AS idx,
       length(c) AS len,
       numbytes(c) AS nbytes,
       lower(a) AS low, upper(b) AS up,
       lpad(b, 2) AS lp, rpad(b, 2) AS rp,
       ltrim(s) AS lt, rtrim(s) AS rt, trim(s) AS tr,
       substring(b, 1, 3) AS sub,
       regexp_matches(b, 'o.l') AS rm,
       regexp_replace(b, 'o', '0') AS rr,
       regexp_extract(b, 'r.') AS rs
FROM demo;
