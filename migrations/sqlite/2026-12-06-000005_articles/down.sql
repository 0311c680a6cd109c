DROP TABLE article_revisions;
DROP TABLE articles;
