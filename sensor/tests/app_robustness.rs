//! Every parser over every connection of every capture in the corpus
//! (including tcpdump's deliberately malformed fuzz reproducers), whatever
//! protocol it carries: nothing may panic, and caps must hold.

mod app_support;

use app_support::{connections, corpus, pcaps_under};
use vigie_sensor::app::dns::DnsState;
use vigie_sensor::app::http::{eve as http_eve, HttpState};
use vigie_sensor::app::quic::QuicState;
use vigie_sensor::app::smb::SmbState;
use vigie_sensor::app::tls::{eve as tls_eve, TlsState};
use vigie_sensor::app::{detect_protocol, Direction};

#[test]
fn parsers_survive_the_whole_corpus() {
    let Some(root) = corpus() else { return };
    let mut files = Vec::new();
    pcaps_under(&root.join("pcaps"), &mut files);
    pcaps_under(&root.join("expected"), &mut files);
    files.sort();
    let (mut conns_seen, mut bytes) = (0usize, 0usize);
    let mut http_txs = 0usize;
    for f in &files {
        for c in connections(f) {
            conns_seen += 1;
            let ts = c.stream(Direction::ToServer);
            let tc = c.stream(Direction::ToClient);
            bytes += ts.len() + tc.len();
            let _ = detect_protocol(c.proto, c.client.1, c.server.1, &ts, &tc);
            let mut tls = TlsState::new();
            let mut http = HttpState::new();
            let mut dns = DnsState::new();
            let mut quic = QuicState::new();
            let mut smb = SmbState::new();
            for (i, (d, chunk)) in c.chunks.iter().enumerate() {
                if let Some(n) = c.gaps.get(&i) {
                    tls.gap(*d, *n);
                    http.gap(*d, *n);
                    dns.gap(*d, *n);
                    smb.gap(*d, *n);
                    continue;
                }
                tls.parse(chunk, *d);
                http.parse(chunk, *d);
                if c.proto == 17 {
                    quic.parse(chunk, *d);
                    dns.parse_udp(chunk, *d);
                } else {
                    dns.parse_tcp(chunk, *d);
                    smb.parse(chunk, *d);
                }
            }
            http.close(Direction::ToServer);
            http.close(Direction::ToClient);
            let _ = tls_eve::eve_tls(&tls);
            let _ = quic.eve();
            let _ = tls.buffers(Direction::ToServer);
            assert!(tls.server_certs.len() <= vigie_sensor::app::tls::state::MAX_CHAIN_LEN);
            let txs = http.take_all();
            assert!(
                txs.len() <= 512,
                "{}: {} transactions",
                f.display(),
                txs.len()
            );
            for t in &txs {
                let _ = http_eve::eve_http(t);
                assert!(t.response_body.len() <= 100 * 1024);
                assert!(t.request_headers.len() <= 256);
                let _ = t.buffers(Direction::ToClient);
            }
            http_txs += txs.len();
            for f in smb.take_closed(true) {
                assert!(f.data.len() <= vigie_sensor::app::smb::state::FILE_DEPTH);
            }
            for t in dns.take_all() {
                for m in t.request.iter().chain(t.response.iter()) {
                    for q in &m.queries {
                        assert!(q.name.len() <= 255);
                    }
                }
            }
        }
    }
    println!(
        "{} captures, {conns_seen} connections, {bytes} bytes, {http_txs} HTTP transactions",
        files.len()
    );
    assert!(
        files.len() > 1000,
        "corpus smaller than expected: {}",
        files.len()
    );
}
