-- One database per service on the compose PostgreSQL (run once, when its volume is empty).
-- Services run their own migrations at start; they only need the database to exist.
CREATE DATABASE orders;
CREATE DATABASE inventory;
CREATE DATABASE billing;
CREATE DATABASE saga;
