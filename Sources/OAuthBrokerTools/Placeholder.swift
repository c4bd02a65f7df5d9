// Shared helpers for the executables: pending.
