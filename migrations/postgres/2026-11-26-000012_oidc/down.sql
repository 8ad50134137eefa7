DROP TABLE oidc_families;
DROP TABLE oidc_grants;
DROP TABLE oidc_codes;
DROP TABLE oidc_clients;
