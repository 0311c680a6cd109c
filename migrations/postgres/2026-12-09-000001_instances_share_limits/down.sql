DROP TABLE cache_versions;
DROP TABLE rate_limits;
