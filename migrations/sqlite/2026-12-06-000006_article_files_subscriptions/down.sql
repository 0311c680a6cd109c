ALTER TABLE mail_outbox DROP COLUMN list_unsubscribe;
DROP TABLE article_deliveries;
DROP TABLE subscriptions;
DROP INDEX articles_all_kinds;
DROP INDEX articles_unannounced;
ALTER TABLE articles DROP COLUMN announced_at;
DROP TABLE article_attachments;
