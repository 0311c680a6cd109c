-- 信息发布: news, notices, policies, training announcements and success stories of the platform,
-- a sub-platform or a unit. The body is Markdown; pages show it rendered and cleaned.
CREATE TABLE articles (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('news', 'notice', 'policy', 'training', 'case')),
    scope TEXT NOT NULL CHECK (scope IN ('platform', 'sub_platform', 'unit')),
    sub_platform_id BIGINT REFERENCES sub_platforms (id),
    unit_id BIGINT REFERENCES units (id),
    title TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 100),
    summary TEXT NOT NULL DEFAULT '' CHECK (length(summary) <= 300),
    body TEXT NOT NULL DEFAULT '' CHECK (length(body) <= 50000),
    status TEXT NOT NULL CHECK (status IN ('draft', 'submitted', 'published', 'returned')),
    return_reason TEXT,
    -- Shown from this instant (a scheduled article waits for it).
    publish_at TIMESTAMP,
    -- A notice leaves the lists after this instant; its address keeps working.
    ends_at TIMESTAMP,
    pinned BOOLEAN NOT NULL DEFAULT FALSE,
    -- Training (培训): when and where, and how many may sign up (none: no limit).
    event_at TIMESTAMP,
    event_place TEXT NOT NULL DEFAULT '' CHECK (length(event_place) <= 100),
    signup_limit INTEGER CHECK (signup_limit IS NULL OR signup_limit > 0),
    author_id BIGINT NOT NULL REFERENCES users (id),
    published_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK ((scope = 'platform' AND sub_platform_id IS NULL AND unit_id IS NULL)
        OR (scope = 'sub_platform' AND sub_platform_id IS NOT NULL AND unit_id IS NULL)
        OR (scope = 'unit' AND unit_id IS NOT NULL AND sub_platform_id IS NULL))
);
-- The lists: by status and kind, pinned first, newest first.
CREATE INDEX articles_lists ON articles (status, kind, pinned, publish_at);
CREATE INDEX articles_unit ON articles (unit_id, publish_at);
CREATE INDEX articles_sub_platform ON articles (sub_platform_id, publish_at);

-- What a visible article said before each edit.
CREATE TABLE article_revisions (
    id INTEGER PRIMARY KEY,
    article_id BIGINT NOT NULL REFERENCES articles (id),
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    body TEXT NOT NULL,
    edited_by BIGINT NOT NULL REFERENCES users (id),
    edited_at TIMESTAMP NOT NULL
);
CREATE INDEX article_revisions_article ON article_revisions (article_id, id);

-- The instruments a training is about.
CREATE TABLE article_instruments (
    article_id BIGINT NOT NULL REFERENCES articles (id),
    instrument_id BIGINT NOT NULL REFERENCES instruments (id),
    PRIMARY KEY (article_id, instrument_id)
);

-- Who signed up for a training; a cancelled sign-up keeps its row.
CREATE TABLE training_signups (
    id INTEGER PRIMARY KEY,
    article_id BIGINT NOT NULL REFERENCES articles (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    cancelled_at TIMESTAMP
);
-- One active sign-up per person: a double click signs up once.
CREATE UNIQUE INDEX training_signups_active ON training_signups (article_id, user_id) WHERE cancelled_at IS NULL;
