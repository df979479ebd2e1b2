-- One database per service: each owns its store (compose only; make run uses SQLite files).
CREATE DATABASE dispute;
CREATE DATABASE notification;
CREATE DATABASE refund;
CREATE DATABASE payments;
