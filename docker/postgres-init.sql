-- One database per service: no service can read another's tables.
CREATE DATABASE portal_auth OWNER portal;
CREATE DATABASE portal_accounts OWNER portal;
CREATE DATABASE portal_credit OWNER portal;
CREATE DATABASE portal_deposit OWNER portal;
CREATE DATABASE portal_payments OWNER portal;
CREATE DATABASE portal_notifications OWNER portal;
CREATE DATABASE portal_audit OWNER portal;
