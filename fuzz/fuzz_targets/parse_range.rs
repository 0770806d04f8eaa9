#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| assetgate::fuzz::parse_range(data));
