DROP TABLE sign_in_stats;
DROP TABLE password_resets;
