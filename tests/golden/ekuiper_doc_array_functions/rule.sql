-- eKuiper docs, array functions: the documented examples (array_sort, array_flatten,
-- array_join) and the documented behaviour of the others on the record's arrays.
CREATE STREAM demo WITH (TOPIC = 'demo/+/in', FORMAT = 'json');
CREATE RULE arrays WITH (TOPIC = 'out/arrays') AS
SELECT array_sort(mixed) AS sorted,
       array_flatten(nested) AS flat,
       array_join(nums, ',') AS joined,
       cardinality(nums) AS card,
       array_position(nums, 2) AS pos2, array_position(nums, 9) AS pos9,
       element_at(nums, 0) AS first, element_at(nums, -1) AS last,
       array_contains(nums, 3) AS has3,
       array_remove(dups, 1) AS removed,
       array_last_position(dups, 1) AS lastpos,
       array_contains_any(nums, dups) AS any_common,
       array_intersect(nums, dups) AS inter,
       array_union(nums, dups) AS uni,
       array_max(nums) AS mx, array_min(nums) AS mn, array_avg(nums) AS av,
       array_except(nums, dups) AS exc,
       array_distinct(dups) AS dist,
       array_concat(nums, dups) AS conc,
       sequence(1, 7, 2) AS seq
FROM demo;
