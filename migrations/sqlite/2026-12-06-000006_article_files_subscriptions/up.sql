-- Files attached to an article. The bytes live under publishing.attachment_dir, named by their
-- SHA-256 (the same file attached twice is stored once); the row keeps the name it came with.
CREATE TABLE article_attachments (
    id INTEGER PRIMARY KEY,
    article_id BIGINT NOT NULL REFERENCES articles (id),
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    -- Found from the bytes, not from the name or the uploader's word.
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL CHECK (size > 0),
    sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
    uploaded_by BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX article_attachments_article ON article_attachments (article_id, id);

-- When subscribers were told of an article (NULL: not yet). Set back to NULL when a unit's
-- article is approved platform-wide, so the platform's subscribers hear of it then.
ALTER TABLE articles ADD COLUMN announced_at TIMESTAMP;
-- Those already out count as told; those scheduled for later are told at their time.
UPDATE articles SET announced_at = updated_at
    WHERE status IN ('submitted', 'published') AND publish_at <= CURRENT_TIMESTAMP;
CREATE INDEX articles_unannounced ON articles (announced_at, publish_at);
-- The lists of every kind (the platform's list, the feed of all): pinned first, newest first,
-- without sorting every published article.
CREATE INDEX articles_all_kinds ON articles (status, pinned, publish_at);

-- A person's subscription to a list (platform-wide, a sub-platform's or a unit's; one kind or
-- all), by e-mail at once or in the daily digest. The token is the one-click unsubscribe link's
-- secret: it unsubscribes this subscription and nothing else.
CREATE TABLE subscriptions (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL CHECK (kind IN ('all', 'news', 'notice', 'policy', 'training', 'case')),
    scope TEXT NOT NULL CHECK (scope IN ('platform', 'sub_platform', 'unit')),
    -- The sub-platform's or unit's id; 0 for the platform-wide lists.
    scope_id BIGINT NOT NULL DEFAULT 0,
    mode TEXT NOT NULL CHECK (mode IN ('immediate', 'daily')),
    token TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    CHECK ((scope = 'platform') = (scope_id = 0))
);
CREATE UNIQUE INDEX subscriptions_one ON subscriptions (user_id, kind, scope, scope_id);
CREATE INDEX subscriptions_scope ON subscriptions (scope, scope_id);

-- Who was told of which article, once per person whatever their subscriptions; a daily
-- subscriber's rows wait (sent_at NULL) for the 08:00 digest.
CREATE TABLE article_deliveries (
    article_id BIGINT NOT NULL REFERENCES articles (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    -- NULL once its subscription ended: the row still says the person was told.
    subscription_id BIGINT REFERENCES subscriptions (id) ON DELETE SET NULL,
    queued_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP,
    PRIMARY KEY (article_id, user_id)
);
CREATE INDEX article_deliveries_waiting ON article_deliveries (sent_at, subscription_id);

-- RFC 8058 one-click unsubscribe: the address a message's List-Unsubscribe header carries.
ALTER TABLE mail_outbox ADD COLUMN list_unsubscribe TEXT;
