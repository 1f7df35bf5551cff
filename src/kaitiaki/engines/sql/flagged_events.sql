-- Every access event on a flagged object, each once: an object flagged by several hash sets or
-- categories is still one object, so the join is a semi-join (IN), never a plain join.
-- Tables: {events} (timestamp, account_id, action, object_id, ip, port)
--         {flagged_objects} (object_id, category, hash_set)
SELECT e.timestamp, e.account_id, e.action, e.object_id, e.ip, e.port
FROM {events} e
WHERE e.object_id IN (SELECT f.object_id FROM {flagged_objects} f)
ORDER BY e.account_id, e.timestamp, e.object_id, e.action, e.ip NULLS LAST, e.port NULLS LAST
