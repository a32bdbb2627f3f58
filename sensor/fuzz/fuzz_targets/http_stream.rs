//! HTTP/1.x: the input is split into request and response streams, each fed
//! in small pieces, then both sides close.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigie_sensor::app::http::{eve, HttpState};
use vigie_sensor::app::Direction;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let cut = (usize::from(cut) * 4).min(rest.len());
    let (req, resp) = rest.split_at(cut);
    let mut s = HttpState::new();
    for (r, p) in req.chunks(7).zip(resp.chunks(11)) {
        s.parse(r, Direction::ToServer);
        s.parse(p, Direction::ToClient);
    }
    s.parse(req, Direction::ToServer);
    s.parse(resp, Direction::ToClient);
    s.close(Direction::ToServer);
    s.close(Direction::ToClient);
    for tx in s.take_all() {
        let _ = eve::eve_http(&tx);
        let _ = tx.buffers(Direction::ToServer);
        let _ = tx.buffers(Direction::ToClient);
    }
});
