-- sales indicators
CREATE RULE sales_indicators WITH (TOPIC = 'analytics/sales', QOS = 1) AS
SELECT window_start() AS window_start, window_end() AS window_end,
       round(sum(amount), 2) AS total_sales, count(*) AS order_count,
       round(avg(amount), 2) AS average_order_value
FROM shop
WHERE event_type = 'purchase'
GROUP BY TumblingWindow('30m');
