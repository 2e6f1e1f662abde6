-- 20-user-behavior.sql: user behaviour (brief analysis 2: active users, new users, conversion
-- rate, retention, churn, sessions). Reads the `shop` stream declared in 10-sales.sql.
--
-- Knobs (change them in the SQL below):
--   * analysis window ........ TumblingWindow('30m')                      (user_behavior, session_summary)
--   * new user ............... an event_type IN ('register', 'signup')    (new_users: the brief's
--                              "new registered users"); first_seen_users counts users this gateway
--                              has not seen for 30 days: first_seen(user_id, '30d')
--   * conversion ............. a user with at least one event_type = 'purchase';
--                              conversion_rate = purchasing users / active users
--   * retention / churn ...... users of the previous window (with activity) who are active again /
--                              not active in this one, over the previous window's users.
--                              NULL for the first window (nothing to compare with).
--   * session ................ events of one user with gaps < 10 minutes: SessionWindow('10m')
--                              (user_sessions); session_duration = last event - first event, seconds.
--                              A session is counted in the 30-minute window in which it closes
--                              (last event + gap), since session_summary reads user_sessions' output.

CREATE RULE user_behavior WITH (TOPIC = 'analytics/users', QOS = 1, STATE_TTL = '24h') AS
SELECT window_start() AS window_start,
       window_end() AS window_end,
       count(DISTINCT user_id) AS active_users,
       count(DISTINCT user_id) FILTER (WHERE event_type IN ('register', 'signup')) AS new_users,
       count(DISTINCT user_id) FILTER (WHERE first_seen(user_id, '30d')) AS first_seen_users,
       round(count(DISTINCT user_id) FILTER (WHERE event_type = 'purchase')
             / count(DISTINCT user_id), 4) AS conversion_rate,
       cardinality(array_intersect(collect(DISTINCT user_id), lag(collect(DISTINCT user_id))))
         AS retained_users,
       round(cardinality(array_intersect(collect(DISTINCT user_id), lag(collect(DISTINCT user_id))))
             / cardinality(lag(collect(DISTINCT user_id))), 4) AS retention_rate,
       cardinality(array_except(lag(collect(DISTINCT user_id)), collect(DISTINCT user_id)))
         AS churned_users,
       round(cardinality(array_except(lag(collect(DISTINCT user_id)), collect(DISTINCT user_id)))
             / cardinality(lag(collect(DISTINCT user_id))), 4) AS churn_rate
FROM shop
WHERE user_id IS NOT NULL
GROUP BY TumblingWindow('30m');

-- One row per user session (gap 10 minutes).
CREATE RULE user_sessions WITH (TOPIC = 'analytics/users/sessions', QOS = 1) AS
SELECT user_id,
       window_start() AS session_start,
       window_end() AS session_end,
       count(*) AS session_events,
       (max(to_timestamp(timestamp)) - min(to_timestamp(timestamp))) / 1000 AS session_duration
FROM shop
WHERE user_id IS NOT NULL
GROUP BY user_id, SessionWindow('10m');

-- total_sessions and average_session_duration (seconds) per 30-minute window.
CREATE RULE session_summary WITH (TOPIC = 'analytics/users/sessions/summary', QOS = 1) AS
SELECT window_start() AS window_start,
       window_end() AS window_end,
       count(*) AS total_sessions,
       round(avg(session_duration), 2) AS average_session_duration
FROM user_sessions
GROUP BY TumblingWindow('30m');
