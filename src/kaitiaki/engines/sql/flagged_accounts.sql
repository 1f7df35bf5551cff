-- One row per account that touched flagged material. Portable SQL: DuckDB and Spark SQL read it
-- as it is (DuckDB gets array_join as a one-line macro from its engine).
-- Tables: {events} (timestamp, account_id, action, object_id, ip, port)
--         {flagged_objects} (object_id, category, hash_set): one object may have several rows
--         {ip_geo} (ip, country): country NULL or '' when not attributed
-- Counts come from the events alone (semi-join), so several flagged_objects rows or several
-- countries for one IP never multiply an event; lists are distinct, sorted, joined by ';'.
WITH fe AS (
    SELECT e.account_id, e.object_id, e.action, e.timestamp, e.ip
    FROM {events} e
    WHERE e.object_id IN (SELECT f.object_id FROM {flagged_objects} f)
),
counts AS (
    SELECT account_id,
           COUNT(DISTINCT object_id) AS flagged_files,
           COUNT(CASE WHEN action = 'upload' THEN 1 END) AS uploads,
           COUNT(CASE WHEN action = 'download' THEN 1 END) AS downloads,
           COUNT(CASE WHEN action = 'view' THEN 1 END) AS views,
           COUNT(CASE WHEN action = 'share' THEN 1 END) AS shares,
           MIN(timestamp) AS first_seen,
           MAX(timestamp) AS last_seen,
           COUNT(DISTINCT ip) AS ips
    FROM fe
    GROUP BY account_id
),
account_countries AS (
    SELECT a.account_id,
           array_join(array_sort(array_distinct(array_agg(g.country))), ';') AS countries
    FROM (SELECT DISTINCT account_id, ip FROM fe WHERE ip IS NOT NULL) a
    JOIN {ip_geo} g ON g.ip = a.ip
    WHERE g.country IS NOT NULL AND g.country <> ''
    GROUP BY a.account_id
),
account_categories AS (
    SELECT o.account_id,
           array_join(array_sort(array_distinct(array_agg(CAST(f.category AS STRING)))), ';')
               AS categories
    FROM (SELECT DISTINCT account_id, object_id FROM fe) o
    JOIN {flagged_objects} f ON f.object_id = o.object_id
    WHERE f.category IS NOT NULL
    GROUP BY o.account_id
)
SELECT c.account_id, c.flagged_files, c.uploads, c.downloads, c.views, c.shares,
       c.first_seen, c.last_seen, c.ips, ac.countries, ak.categories
FROM counts c
LEFT JOIN account_countries ac ON ac.account_id = c.account_id
LEFT JOIN account_categories ak ON ak.account_id = c.account_id
ORDER BY c.account_id
