"""Oversight and records: the audit log, audited access grants, retention and legal holds,
export and erasure of one person's data, and quiet hours (README "Oversight")."""
