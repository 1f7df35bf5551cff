-- Every identifier row of the accounts that touched flagged material (an account may have
-- several rows: usernames, emails, phones and devices change), for identity resolution.
-- Tables: {accounts} (account_id, username, email, phone, device_id), {events}, {flagged_objects}
SELECT DISTINCT a.account_id, a.username, a.email, a.phone, a.device_id
FROM {accounts} a
WHERE a.account_id IN (
    SELECT e.account_id
    FROM {events} e
    WHERE e.object_id IN (SELECT f.object_id FROM {flagged_objects} f)
)
ORDER BY a.account_id, a.username NULLS LAST, a.email NULLS LAST, a.phone NULLS LAST,
         a.device_id NULLS LAST
