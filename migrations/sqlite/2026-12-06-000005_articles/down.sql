DROP TABLE training_signups;
DROP TABLE article_instruments;
DROP TABLE article_revisions;
DROP TABLE articles;
