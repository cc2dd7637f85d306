//! Any request body, read as every route of the server reads it, and any `Referer`: never a
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    wxlogin_server::routes::read_every_body(data, &String::from_utf8_lossy(data));
});
