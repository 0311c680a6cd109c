DROP TABLE voucher_history;
DROP TABLE voucher_files;
DROP TABLE voucher_uses;
DROP TABLE vouchers;
DROP TABLE voucher_providers;
DROP TABLE voucher_programmes;
ALTER TABLE users DROP COLUMN voucher_issuer_id;
