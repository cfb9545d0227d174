//! Whatever bytes arrive as an upload, the checks answer (a checked photo
//! or a reason) and never panic, and a photo they pass is one the
//! analysis can decode.
#![no_main]

use app::photos::picture::{check, PhotoLimits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Small limits keep each run fast; the paths are the same.
    let limits = PhotoLimits {
        max_bytes: 1 << 20,
        max_pixels: 4_000_000,
    };
    if let Ok(checked) = check(data, limits) {
        assert!(checked.width > 0 && checked.height > 0);
        assert!(checked.width as u64 * checked.height as u64 <= limits.max_pixels);
        // What is stored must pass the checks again, as it is. Its size
        // may exceed the upload limit: a photo turned upright by its
        // pixels is re-encoded, and can come out larger than it came in.
        let stored_limits = PhotoLimits {
            max_bytes: usize::MAX,
            ..limits
        };
        let again = check(&checked.stored, stored_limits).expect("the stored photo is a valid photo");
        assert_eq!((again.width, again.height), (checked.width, checked.height));
    }
});
