-- Per account and address, the flagged events seen there (counted as flagged_ip_events lists
-- them: distinct ip, port, account, time, action) and the first and last of them: the input of
-- attribution and of each account's home region, small enough for the driver at any scale.
-- Tables: {events}, {flagged_objects}
SELECT p.account_id, p.ip, COUNT(*) AS events, MIN(p.timestamp) AS first_seen,
       MAX(p.timestamp) AS last_seen
FROM (
    SELECT DISTINCT e.ip, e.port, e.account_id, e.timestamp, e.action
    FROM {events} e
    WHERE e.ip IS NOT NULL
      AND e.object_id IN (SELECT f.object_id FROM {flagged_objects} f)
) p
GROUP BY p.account_id, p.ip
ORDER BY p.ip, first_seen, p.account_id NULLS LAST
