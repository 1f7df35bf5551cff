-- The IP addresses seen on flagged events: the only ones worth geolocating.
-- Tables: {events}, {flagged_objects}
SELECT DISTINCT e.ip
FROM {events} e
WHERE e.ip IS NOT NULL
  AND e.object_id IN (SELECT f.object_id FROM {flagged_objects} f)
ORDER BY e.ip
