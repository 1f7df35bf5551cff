-- Who was at which IP and when, on flagged events: the input of IP-based identity links and of
-- the ipCaptureEvent list in provider reports. Distinct: one row per (ip, port, account, time,
-- action), whatever the object.
-- Tables: {events}, {flagged_objects}
SELECT DISTINCT e.ip, e.port, e.account_id, e.timestamp, e.action
FROM {events} e
WHERE e.ip IS NOT NULL
  AND e.object_id IN (SELECT f.object_id FROM {flagged_objects} f)
ORDER BY e.ip, e.timestamp, e.account_id, e.port NULLS LAST, e.action
