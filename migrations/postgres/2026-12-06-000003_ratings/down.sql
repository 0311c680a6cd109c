DROP TABLE rating_counts;
DROP TABLE ratings;
