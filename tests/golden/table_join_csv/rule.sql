-- A stream-table JOIN on a CSV file (header row): each reading is enriched with its device's
-- row; readings of devices the table does not know are dropped (inner join).
CREATE STREAM readings WITH (TOPIC = 'sensors/+/reading', TIMESTAMP = 'ts');
CREATE TABLE devices (id STRING, site, max_temp FLOAT, label) WITH (TYPE = 'file', PATH = 'devices.csv', KEY = 'id');

CREATE RULE enriched WITH (TOPIC = 'out/enriched') AS
SELECT r.id, site, d.label, temp, temp > max_temp AS too_hot
FROM readings AS r JOIN devices d ON r.id = d.id
WHERE site <> 'lab';
