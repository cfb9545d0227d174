//! The intake page (photograph a donation, review, confirm).
