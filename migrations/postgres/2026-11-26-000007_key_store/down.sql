DROP TABLE key_store;
