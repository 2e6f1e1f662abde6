-- 30-system-performance.sql: system performance (brief analysis 3: response time, error rate,
-- throughput, resource utilisation, peak load). One metric sample per message:
--   {"metric_type": "response_time", "value": 150, "host": "web-1", "timestamp": "..."}
-- metric_type is one of response_time (ms), error_rate (0..1), throughput (requests/s),
-- cpu_usage, memory_usage, network_usage (percent).
--
-- Knobs (change them in the SQL below):
--   * analysis window ............ TumblingWindow('30m')
--   * performance_score .......... 100
--        - 30 when avg_response_time > 500 ms, else - 10 when > 100 ms
--        - 25 when error_rate > 0.05,          else -  5 when > 0.01
--        - 10 when throughput < 100 requests/s
--        - 10 when peak cpu_usage > 90 percent
--     (a term whose metric had no sample in the window subtracts nothing)
--   * degraded alert ............. performance_score < 70   (performance_alerts)
--
-- Averages are over the samples received in the window; max_response_time and peak_* are the
-- largest sample (peak load).

CREATE STREAM metrics WITH (
  TOPIC = 'metrics/+/system', FORMAT = 'json', TIMESTAMP = 'timestamp', MAXOUTOFORDERNESS = '5s'
);

CREATE RULE system_performance WITH (TOPIC = 'analytics/system', QOS = 1) AS
SELECT window_start() AS window_start,
       window_end() AS window_end,
       round(avg(value) FILTER (WHERE metric_type = 'response_time'), 2) AS avg_response_time,
       max(value) FILTER (WHERE metric_type = 'response_time') AS max_response_time,
       round(percentile(value, 0.95) FILTER (WHERE metric_type = 'response_time'), 2) AS p95_response_time,
       round(avg(value) FILTER (WHERE metric_type = 'error_rate'), 4) AS error_rate,
       round(avg(value) FILTER (WHERE metric_type = 'throughput'), 2) AS throughput,
       max(value) FILTER (WHERE metric_type = 'throughput') AS peak_throughput,
       round(avg(value) FILTER (WHERE metric_type = 'cpu_usage'), 2) AS avg_cpu_usage,
       max(value) FILTER (WHERE metric_type = 'cpu_usage') AS peak_cpu_usage,
       round(avg(value) FILTER (WHERE metric_type = 'memory_usage'), 2) AS avg_memory_usage,
       max(value) FILTER (WHERE metric_type = 'memory_usage') AS peak_memory_usage,
       round(avg(value) FILTER (WHERE metric_type = 'network_usage'), 2) AS avg_network_usage,
       max(value) FILTER (WHERE metric_type = 'network_usage') AS peak_network_usage,
       count(*) AS samples,
       100
         - CASE WHEN avg(value) FILTER (WHERE metric_type = 'response_time') > 500 THEN 30
                WHEN avg(value) FILTER (WHERE metric_type = 'response_time') > 100 THEN 10
                ELSE 0 END
         - CASE WHEN avg(value) FILTER (WHERE metric_type = 'error_rate') > 0.05 THEN 25
                WHEN avg(value) FILTER (WHERE metric_type = 'error_rate') > 0.01 THEN 5
                ELSE 0 END
         - CASE WHEN avg(value) FILTER (WHERE metric_type = 'throughput') < 100 THEN 10 ELSE 0 END
         - CASE WHEN max(value) FILTER (WHERE metric_type = 'cpu_usage') > 90 THEN 10 ELSE 0 END
         AS performance_score
FROM metrics
WHERE metric_type IS NOT NULL AND value IS NOT NULL
GROUP BY TumblingWindow('30m');

-- Alert when a window's performance score drops below 70 (chained on system_performance).
CREATE RULE performance_alerts WITH (TOPIC = 'alerts/system', QOS = 1) AS
SELECT window_start, window_end, performance_score, avg_response_time, error_rate, throughput
FROM system_performance
WHERE performance_score < 70;
