//! HTTP/2: after the client preface, the input is split into client and
//! server frame streams, fed in small pieces, then both sides close.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigie_sensor::app::http::{eve, HttpState, H2_PREFACE};
use vigie_sensor::app::Direction;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let cut = (usize::from(cut) * 8).min(rest.len());
    let (client, server) = rest.split_at(cut);
    let mut s = HttpState::http2(Default::default());
    s.parse(H2_PREFACE, Direction::ToServer);
    for (c, v) in client.chunks(9).zip(server.chunks(13)) {
        s.parse(c, Direction::ToServer);
        s.parse(v, Direction::ToClient);
    }
    s.close(Direction::ToServer);
    s.close(Direction::ToClient);
    for t in s.take_all() {
        let _ = eve::eve_http(&t);
    }
});
