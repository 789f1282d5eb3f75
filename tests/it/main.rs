//! Integration tests: a real `qxfer listen` process on 127.0.0.1 with a temporary data
//! directory, driven by the real `qxfer` binary (and, for hostile cases, by a raw protocol
//! client built from the library's codec over real QUIC + TLS).

mod raw;
mod shell;
mod support;

mod accounts;
mod attacks;
mod bans;
mod basics;
mod challenges;
mod cli;
mod cycles;
mod dead_ends;
mod docs;
mod exhaustion;
mod fair_queue;
mod fair_slots;
mod fuzz_replay;
mod habits;
mod hash_memory;
mod hostile;
mod hostile_listener;
mod layering;
mod lockout;
mod mailbox;
mod mistakes;
mod numbers;
mod patient_thief;
mod pipes;
mod privacy;
mod quotas;
mod recovery;
mod registration;
mod resume;
mod root_of_trust;
mod setup;
mod shipping;
mod terminal;
mod texts;
mod ticket_flood;
mod tmux;
mod too_fast;
mod transfer;
mod trust;
mod wire_golden;
