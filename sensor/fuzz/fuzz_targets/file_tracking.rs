//! Files: multipart bodies (boundaries, part headers, filenames), the file
//! type table, and the file views of HTTP transactions built from hostile
//! exchanges (detection buffers and EVE fileinfo).
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigie_sensor::app::file::{self, magic, multipart};
use vigie_sensor::app::http::HttpState;
use vigie_sensor::app::Direction;

fuzz_target!(|data: &[u8]| {
    let _ = magic::describe(data);
    // First line: a Content-Type; the rest: a body.
    let (ct, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    if let Some(b) = multipart::boundary(ct) {
        let parts = multipart::parts(body, b);
        assert!(parts.len() <= multipart::MAX_PARTS);
    }
    let _ = multipart::param(ct, b"filename");
    // The whole input as a request stream and a response stream.
    let mut s = HttpState::new();
    for chunk in data.chunks(11) {
        s.parse(chunk, Direction::ToServer);
        s.parse(chunk, Direction::ToClient);
    }
    for tx in s.transactions() {
        for dir in [Direction::ToServer, Direction::ToClient] {
            for f in file::http_files(tx, dir, None, true) {
                let mut bufs = Vec::new();
                f.push_buffers(&mut bufs, true, &|_| true);
                let _ = file::at_flow_end(f, true).eve();
            }
        }
    }
});
