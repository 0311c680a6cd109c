-- 创新券 (innovation vouchers): a government body (the issuer, an organisation) pays part of a
-- small company's fee for a service from an approved provider. The states and steps are in
-- vouchers::model; money is in fen, always whole.

-- The accounts that act for an issuer (a district science bureau's officers), named by a
-- platform administrator.
-- (No REFERENCES here: SQLite cannot drop a column that has one, and the down migration does.)
ALTER TABLE users ADD COLUMN voucher_issuer_id BIGINT;

CREATE TABLE voucher_programmes (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    issuer_id BIGINT NOT NULL REFERENCES organisations (id),
    description TEXT NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
    budget_fen BIGINT NOT NULL CHECK (budget_fen > 0),
    -- The share of a fee the voucher pays, in percent; fees up to full_below_fen it pays whole.
    share_percent INTEGER NOT NULL CHECK (share_percent BETWEEN 1 AND 100),
    full_below_fen BIGINT NOT NULL DEFAULT 0 CHECK (full_below_fen >= 0),
    cap_per_application_fen BIGINT NOT NULL CHECK (cap_per_application_fen > 0),
    cap_per_company_year_fen BIGINT NOT NULL CHECK (cap_per_company_year_fen >= cap_per_application_fen),
    sme_only BOOLEAN NOT NULL DEFAULT FALSE,
    apply_from DATE NOT NULL,
    apply_until DATE NOT NULL,
    use_until DATE NOT NULL,
    redeem_until DATE NOT NULL,
    created_by BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK (apply_from <= apply_until AND apply_until <= use_until AND use_until <= redeem_until)
);
CREATE INDEX voucher_programmes_issuer ON voucher_programmes (issuer_id, id);

-- Who may serve a programme's vouchers: host units, sub-platforms (their units) or single
-- instruments. A programme without rows here takes every host unit of the platform.
CREATE TABLE voucher_providers (
    programme_id BIGINT NOT NULL REFERENCES voucher_programmes (id),
    scope TEXT NOT NULL CHECK (scope IN ('unit', 'sub_platform', 'instrument')),
    target_id BIGINT NOT NULL,
    PRIMARY KEY (programme_id, scope, target_id)
);

-- A company's quota (额度): applied for, then approved for an amount (committed against the
-- budget at once) or refused. What is not used by the programme's use-by date returns to the
-- budget (returned_fen).
CREATE TABLE vouchers (
    id INTEGER PRIMARY KEY,
    number TEXT UNIQUE,
    programme_id BIGINT NOT NULL REFERENCES voucher_programmes (id),
    organisation_id BIGINT NOT NULL REFERENCES organisations (id),
    applicant_id BIGINT NOT NULL REFERENCES users (id),
    need TEXT NOT NULL CHECK (length(need) BETWEEN 1 AND 2000),
    requested_fen BIGINT NOT NULL CHECK (requested_fen > 0),
    sme_declared BOOLEAN NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('applied', 'approved', 'refused', 'withdrawn', 'expired')),
    approved_fen BIGINT NOT NULL DEFAULT 0 CHECK (approved_fen >= 0),
    returned_fen BIGINT NOT NULL DEFAULT 0 CHECK (returned_fen >= 0 AND returned_fen <= approved_fen),
    -- The year (Beijing) whose company cap the quota counts against.
    year INTEGER NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    decided_by BIGINT REFERENCES users (id),
    decided_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX vouchers_programme ON vouchers (programme_id, status, id);
CREATE INDEX vouchers_company ON vouchers (organisation_id, programme_id, year);
-- One open application per company and programme: a double click or a second tab applies once.
CREATE UNIQUE INDEX vouchers_one_open ON vouchers (programme_id, organisation_id) WHERE status = 'applied';

-- A voucher used on one booking or sample order (申请使用), then redeemed (申请兑付): the
-- provider confirms the amount, claims it after the service with its files, the issuer
-- approves (公示 until notice_until), and pays.
CREATE TABLE voucher_uses (
    id INTEGER PRIMARY KEY,
    voucher_id BIGINT NOT NULL REFERENCES vouchers (id),
    reservation_id BIGINT NOT NULL REFERENCES reservations (id),
    unit_id BIGINT NOT NULL REFERENCES units (id),
    instrument_id BIGINT NOT NULL REFERENCES instruments (id),
    fee_fen BIGINT NOT NULL CHECK (fee_fen >= 0),
    voucher_fen BIGINT NOT NULL CHECK (voucher_fen >= 0 AND voucher_fen <= fee_fen),
    status TEXT NOT NULL CHECK (status IN ('requested', 'confirmed', 'declined', 'cancelled', 'claimed', 'returned', 'approved', 'refused', 'paid', 'lapsed')),
    service_record_id BIGINT REFERENCES service_records (id),
    claim_fee_fen BIGINT CHECK (claim_fee_fen >= 0),
    claim_fen BIGINT CHECK (claim_fen >= 0 AND claim_fen <= voucher_fen),
    reason TEXT NOT NULL DEFAULT '',
    confirmed_at TIMESTAMP,
    claimed_at TIMESTAMP,
    approved_at TIMESTAMP,
    notice_until TIMESTAMP,
    paid_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX voucher_uses_voucher ON voucher_uses (voucher_id, id);
CREATE INDEX voucher_uses_unit ON voucher_uses (unit_id, status, id);
CREATE INDEX voucher_uses_status ON voucher_uses (status, notice_until);
-- One live use per booking: a booking is paid by one voucher once.
CREATE UNIQUE INDEX voucher_uses_one_live ON voucher_uses (reservation_id)
    WHERE status NOT IN ('declined', 'cancelled', 'refused', 'lapsed');

-- The redemption's files: the contract, the invoice, the proof the company paid its part, the
-- service's result. Bytes are kept as articles' attachments are, by SHA-256.
CREATE TABLE voucher_files (
    id INTEGER PRIMARY KEY,
    use_id BIGINT NOT NULL REFERENCES voucher_uses (id),
    kind TEXT NOT NULL CHECK (kind IN ('contract', 'invoice', 'payment', 'result')),
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL CHECK (size > 0),
    sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
    uploaded_by BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX voucher_files_use ON voucher_files (use_id, id);

-- Every step of a quota and of its uses, oldest first.
CREATE TABLE voucher_history (
    id INTEGER PRIMARY KEY,
    voucher_id BIGINT NOT NULL REFERENCES vouchers (id),
    use_id BIGINT REFERENCES voucher_uses (id),
    from_status TEXT,
    to_status TEXT NOT NULL,
    step TEXT NOT NULL,
    actor_id BIGINT REFERENCES users (id),
    amount_fen BIGINT,
    note TEXT NOT NULL DEFAULT '',
    at TIMESTAMP NOT NULL
);
CREATE INDEX voucher_history_voucher ON voucher_history (voucher_id, id);
