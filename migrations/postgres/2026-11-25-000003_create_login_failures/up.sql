-- Failed-login counters per username and per client IP, shared by every instance (PostgreSQL).
CREATE TABLE login_failures (
    -- 'user' (lower-cased username, existing or not) or 'ip'
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    failures INTEGER NOT NULL,
    window_started_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP,
    PRIMARY KEY (kind, subject)
);
