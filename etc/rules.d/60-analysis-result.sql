-- 60-analysis-result.sql: the brief's general "Analysis Result" over all business events of the
-- `shop` stream (declared in 10-sales.sql).
--
-- Knobs (change them in the SQL below):
--   * analysis window ...... TumblingWindow('30m')
--   * order ................ event_type = 'purchase' (total_amount, avg_order_value)
--   * top_category ......... most frequent category among all events with a category
--                            (ties: the value seen first)
--   * conversion_rate ...... purchasing users / unique users (same definition as 20-user-behavior.sql)

CREATE RULE analysis_result WITH (TOPIC = 'analytics/summary', QOS = 1) AS
SELECT window_start() AS window_start,
       window_end() AS window_end,
       count(*) AS total_events,
       round(sum(amount) FILTER (WHERE event_type = 'purchase'), 2) AS total_amount,
       count(DISTINCT user_id) AS unique_users,
       round(avg(amount) FILTER (WHERE event_type = 'purchase'), 2) AS avg_order_value,
       mode(category) AS top_category,
       round(count(DISTINCT user_id) FILTER (WHERE event_type = 'purchase')
             / count(DISTINCT user_id), 4) AS conversion_rate
FROM shop
GROUP BY TumblingWindow('30m');
