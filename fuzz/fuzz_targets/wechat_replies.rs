//! Any reply WeChat (or something posing as it) could send to each API call: parsed or
//! refused as an invalid response, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wxlogin_wechat_protocol::{
    parse_check_session, parse_code2session, parse_phone_number, parse_stable_token,
};

fuzz_target!(|data: &[u8]| {
    let _ = parse_code2session(data);
    let _ = parse_stable_token(data);
    let _ = parse_phone_number(data);
    let _ = parse_check_session(data);
});
