CREATE ALERT hot WITH (TOPIC = 'alerts/hot') AS
SELECT CASE WHEN t > 30 THEN 'hot' WHEN t < 0 THEN 'cold' ELSE 'ok' END AS level,
       case status when 'on' then 1 else 0 end
FROM temps;
