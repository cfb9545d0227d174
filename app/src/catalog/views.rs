//! Views: filled in below.
