//! Chunked framing and gzip/deflate decoding of a response body.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigie_sensor::app::http::HttpState;
use vigie_sensor::app::Direction;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let coding = match mode % 3 {
        0 => "gzip",
        1 => "deflate",
        _ => "identity",
    };
    let te = if mode & 4 != 0 {
        "Transfer-Encoding: chunked\r\n"
    } else {
        ""
    };
    let mut s = HttpState::new();
    s.parse(b"GET / HTTP/1.1\r\nHost: f\r\n\r\n", Direction::ToServer);
    let head = format!("HTTP/1.1 200 OK\r\nContent-Encoding: {coding}\r\n{te}\r\n");
    s.parse(head.as_bytes(), Direction::ToClient);
    s.parse(body, Direction::ToClient);
    s.close(Direction::ToClient);
    let _ = s.take_all();
});
