//! DCERPC (connection-oriented, version 5) over TCP and over SMB named
//! pipes: PDU framing per direction, the interfaces bound per presentation
//! context and whether the server accepted them, and calls (a REQUEST and
//! its RESPONSE, fragments joined) as transactions for `dcerpc.iface`,
//! `dcerpc.opnum` and `dcerpc.stub_data` rules and EVE.

pub mod eve;
pub mod parser;

use parser::{
    parse_bind, parse_bind_ack, parse_header, parse_request, parse_response, BindContext,
    HeaderError, PduType, HEADER_LEN, PFC_FIRST_FRAG, PFC_LAST_FRAG,
};

use crate::app::Direction;

/// Stub data kept per call and side (fragments joined); past it bytes are
/// counted, not kept.
pub const MAX_STUB: usize = 1 << 20;
/// Calls tracked at once per flow (or pipe); the oldest goes past it.
pub const MAX_TRANSACTIONS: usize = 256;
/// Presentation contexts remembered per association.
pub const MAX_CONTEXTS: usize = 128;
/// Bytes looked through for a PDU header after a gap before giving up on
/// the chunk (the rest of it is dropped).
const RESYNC_SCAN: usize = 64 * 1024;

/// DCERPC anomalies, counted per flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DcerpcEvent {
    /// Bytes that are not a version 5 PDU header: framing lost until a
    /// header is found again.
    MalformedHeader,
    /// A PDU's fixed fields are cut short by its fragment length.
    MalformedBody,
    /// A call's stub data went past [`MAX_STUB`].
    StubTooLarge,
    /// More calls than [`MAX_TRANSACTIONS`]: the oldest was dropped.
    TooManyTransactions,
    /// More contexts than [`MAX_CONTEXTS`]: a context was not remembered.
    TooManyContexts,
    /// A later fragment of a call whose first fragment was not seen.
    FragmentWithoutFirst,
    /// A TCP stream gap: framing resynchronised on the next header.
    Gap,
}

impl DcerpcEvent {
    /// Every event, in declaration order (index = counter slot).
    pub const ALL: [DcerpcEvent; 7] = [
        DcerpcEvent::MalformedHeader,
        DcerpcEvent::MalformedBody,
        DcerpcEvent::StubTooLarge,
        DcerpcEvent::TooManyTransactions,
        DcerpcEvent::TooManyContexts,
        DcerpcEvent::FragmentWithoutFirst,
        DcerpcEvent::Gap,
    ];

    /// Name of the event.
    pub fn name(self) -> &'static str {
        match self {
            DcerpcEvent::MalformedHeader => "malformed_header",
            DcerpcEvent::MalformedBody => "malformed_body",
            DcerpcEvent::StubTooLarge => "stub_too_large",
            DcerpcEvent::TooManyTransactions => "too_many_transactions",
            DcerpcEvent::TooManyContexts => "too_many_contexts",
            DcerpcEvent::FragmentWithoutFirst => "fragment_without_first",
            DcerpcEvent::Gap => "gap",
        }
    }
}

/// An interface proposed in a presentation context, and the server's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Iface {
    /// The context as proposed.
    pub ctx: BindContext,
    /// The BIND_ACK / ALTER_CONTEXT_RESP result (0 = accepted), once seen.
    pub ack_result: Option<u16>,
}

impl Iface {
    /// Bound and accepted by the server.
    pub fn accepted(&self) -> bool {
        self.ack_result == Some(0)
    }
}

/// One side of a call.
#[derive(Debug, Clone, Default)]
pub struct CallSide {
    /// PDU type of the first fragment of this side.
    pub ptype: Option<PduType>,
    /// Stub data, fragments joined, up to [`MAX_STUB`] bytes.
    pub stub: Vec<u8>,
    /// Stub bytes seen (kept or not).
    pub stub_len: u64,
    /// Fragments seen.
    pub frags: u32,
    /// The last fragment was seen.
    pub done: bool,
}

/// A call: a REQUEST and its RESPONSE, or a BIND / ALTER_CONTEXT and its
/// answer, sharing a call id.
#[derive(Debug, Clone)]
pub struct DcerpcTx {
    /// Per-flow transaction number.
    pub tx_id: u64,
    /// Call id of the PDUs.
    pub call_id: u32,
    /// RPC minor version of the first PDU.
    pub minor: u8,
    /// Presentation context of a REQUEST.
    pub ctx_id: u16,
    /// Operation number of a REQUEST.
    pub opnum: Option<u16>,
    /// Client side (index 0) and server side (index 1).
    pub sides: [CallSide; 2],
    /// Contexts a BIND or ALTER_CONTEXT proposed (their answer in `ifaces`).
    pub bound: Vec<u16>,
    /// Detection state per direction: 1 = ready with the direction's next
    /// packet, 2 = inspected.
    pub inspect: [u8; 2],
    /// The EVE event was written.
    pub logged: bool,
}

impl DcerpcTx {
    fn new(tx_id: u64, call_id: u32, minor: u8) -> DcerpcTx {
        DcerpcTx {
            tx_id,
            call_id,
            minor,
            ctx_id: 0,
            opnum: None,
            sides: [CallSide::default(), CallSide::default()],
            bound: Vec::new(),
            inspect: [0; 2],
            logged: false,
        }
    }

    /// A REQUEST call (the only kind `dcerpc.iface` and `dcerpc.opnum` see).
    pub fn is_request(&self) -> bool {
        self.sides[0].ptype == Some(PduType::Request)
    }

    /// Both sides are complete (or the call has no answer coming).
    pub fn complete(&self) -> bool {
        self.sides[1].done
    }
}

/// Per-flow (or per-pipe) DCERPC state.
#[derive(Debug, Default)]
pub struct DcerpcState {
    /// Bytes of the PDU being framed, per direction.
    bufs: [Vec<u8>; 2],
    /// After a gap or a bad header: looking for the next header.
    resync: [bool; 2],
    ifaces: Vec<Iface>,
    /// Contexts the last BIND / ALTER_CONTEXT proposed, in order, for the
    /// answer's results.
    proposed: Vec<u16>,
    txs: Vec<DcerpcTx>,
    next_tx_id: u64,
    /// Over SMB the reference IDS matches `dcerpc.iface` against any accepted
    /// interface of the pipe, over TCP against the request's context only.
    any_iface: bool,
    counts: [u64; DcerpcEvent::ALL.len()],
}

fn slot(dir: Direction) -> usize {
    match dir {
        Direction::ToServer => 0,
        Direction::ToClient => 1,
    }
}

impl DcerpcState {
    /// State for DCERPC over TCP.
    pub fn new() -> DcerpcState {
        DcerpcState::default()
    }

    /// State for one SMB named pipe; its transaction ids start at `first_tx_id`.
    pub fn for_pipe(first_tx_id: u64) -> DcerpcState {
        DcerpcState {
            next_tx_id: first_tx_id,
            any_iface: true,
            ..DcerpcState::default()
        }
    }

    /// How many times `e` was raised.
    pub fn count(&self, e: DcerpcEvent) -> u64 {
        self.counts[e as usize]
    }

    fn raise(&mut self, e: DcerpcEvent) {
        self.counts[e as usize] += 1;
    }

    /// Calls tracked now.
    pub fn transactions(&self) -> &[DcerpcTx] {
        &self.txs
    }

    /// Calls tracked now, for detection to record what it inspected.
    pub fn transactions_mut(&mut self) -> &mut [DcerpcTx] {
        &mut self.txs
    }

    /// Interfaces proposed so far, with the server's answers.
    pub fn ifaces(&self) -> &[Iface] {
        &self.ifaces
    }

    /// Interfaces a call may use for `dcerpc.iface`: the accepted interface
    /// of its context (over SMB: every accepted interface of the pipe).
    pub fn call_ifaces<'a>(&'a self, tx: &'a DcerpcTx) -> impl Iterator<Item = &'a Iface> + 'a {
        let any = self.any_iface;
        self.ifaces
            .iter()
            .filter(move |i| tx.is_request() && i.accepted() && (any || i.ctx.ctx_id == tx.ctx_id))
    }

    /// The interface bound to context `ctx_id`, accepted or not.
    pub fn iface_of(&self, ctx_id: u16) -> Option<&Iface> {
        self.ifaces.iter().rev().find(|i| i.ctx.ctx_id == ctx_id)
    }

    /// Readies every complete side not inspected yet (flow end).
    pub fn ready_all(&mut self) {
        for t in &mut self.txs {
            for (e, side) in t.sides.iter().enumerate() {
                if t.inspect[e] == 0 && side.done {
                    t.inspect[e] = 1;
                }
            }
        }
    }

    /// Removes and returns the calls that are complete and inspected (every
    /// call when `all`; without rules, `inspected_only` is false).
    pub fn take_complete(&mut self, all: bool, inspected_only: bool) -> Vec<DcerpcTx> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.txs.len() {
            let t = &self.txs[i];
            let seen = !inspected_only || t.inspect == [2, 2];
            if all || (t.complete() && seen) {
                out.push(self.txs.remove(i));
            } else {
                i += 1;
            }
        }
        out
    }

    /// In-order stream bytes travelling in `dir`.
    pub fn parse(&mut self, mut data: &[u8], dir: Direction) {
        let s = slot(dir);
        while !data.is_empty() {
            if self.resync[s] {
                data = self.resync(s, data);
                continue;
            }
            let buf = &mut self.bufs[s];
            if buf.len() < HEADER_LEN {
                let n = (HEADER_LEN - buf.len()).min(data.len());
                buf.extend_from_slice(&data[..n]);
                data = &data[n..];
                if buf.len() < HEADER_LEN {
                    return;
                }
            }
            let h = match parse_header(buf) {
                Ok(h) => h,
                Err(HeaderError::Short) => return,
                Err(HeaderError::Invalid) => {
                    self.raise(DcerpcEvent::MalformedHeader);
                    self.resync[s] = true;
                    // The bytes after the bad first one may start a header.
                    let kept = std::mem::take(&mut self.bufs[s]);
                    self.bufs[s] = kept.get(1..).unwrap_or(&[]).to_vec();
                    continue;
                }
            };
            let want = usize::from(h.frag_len);
            let n = (want - buf.len()).min(data.len());
            buf.extend_from_slice(&data[..n]);
            data = &data[n..];
            if buf.len() == want {
                let pdu = std::mem::take(&mut self.bufs[s]);
                self.pdu(&pdu, dir);
                let mut pdu = pdu;
                pdu.clear();
                self.bufs[s] = pdu;
            }
        }
    }

    /// Whole PDUs carried by one SMB read or write (a message may also end
    /// mid-PDU: the rest follows in the next one).
    pub fn parse_message(&mut self, data: &[u8], dir: Direction) {
        self.parse(data, dir);
    }

    /// `len` bytes of the stream in `dir` are missing.
    pub fn gap(&mut self, dir: Direction) {
        self.raise(DcerpcEvent::Gap);
        let s = slot(dir);
        self.bufs[s].clear();
        self.resync[s] = true;
    }

    /// Drops bytes until a plausible header (`05 00|01 <type> .. 10|00 ..`);
    /// returns the input from there on.
    fn resync<'d>(&mut self, s: usize, data: &'d [u8]) -> &'d [u8] {
        let mut w = std::mem::take(&mut self.bufs[s]);
        let keep = w.len();
        let take = data.len().min(RESYNC_SCAN);
        w.extend_from_slice(&data[..take]);
        let found = w.windows(HEADER_LEN).position(|x| {
            x[0] == 5 && x[1] <= 1 && x[2] <= 19 && x[4] & 0xee == 0 && parse_header(x).is_ok()
        });
        match found {
            Some(p) if p < keep => {
                self.resync[s] = false;
                self.bufs[s] = w.get(p..keep).unwrap_or(&[]).to_vec();
                data
            }
            Some(p) => {
                self.resync[s] = false;
                data.get(p - keep..).unwrap_or(&[])
            }
            None => {
                let cut = w.len().saturating_sub(HEADER_LEN - 1);
                self.bufs[s] = w.get(cut..).unwrap_or(&[]).to_vec();
                data.get(take..).unwrap_or(&[])
            }
        }
    }

    fn new_tx(&mut self, call_id: u32, minor: u8) -> usize {
        if self.txs.len() >= MAX_TRANSACTIONS {
            self.raise(DcerpcEvent::TooManyTransactions);
            self.txs.remove(0);
        }
        let tx = DcerpcTx::new(self.next_tx_id, call_id, minor);
        self.next_tx_id += 1;
        self.txs.push(tx);
        self.txs.len() - 1
    }

    /// The open call `call_id` on side `side` (its last fragment not seen).
    fn open_call(&self, call_id: u32, side: usize) -> Option<usize> {
        self.txs.iter().rposition(|t| {
            t.call_id == call_id && t.sides[side].ptype.is_some() && !t.sides[side].done
        })
    }

    /// The call `call_id` waiting for its answer.
    fn awaiting_answer(&self, call_id: u32) -> Option<usize> {
        self.txs
            .iter()
            .rposition(|t| t.call_id == call_id && t.sides[1].ptype.is_none())
    }

    fn add_stub(&mut self, i: usize, side: usize, stub: &[u8]) {
        let Some(t) = self.txs.get_mut(i) else { return };
        let sd = &mut t.sides[side];
        sd.stub_len += stub.len() as u64;
        let room = MAX_STUB.saturating_sub(sd.stub.len());
        if stub.len() > room {
            if room > 0 || sd.stub_len == stub.len() as u64 {
                self.counts[DcerpcEvent::StubTooLarge as usize] += 1;
            }
            sd.stub.extend_from_slice(&stub[..room]);
        } else {
            sd.stub.extend_from_slice(stub);
        }
    }

    /// One whole PDU.
    fn pdu(&mut self, pdu: &[u8], dir: Direction) {
        let Ok(h) = parse_header(pdu) else { return };
        let first = h.flags & PFC_FIRST_FRAG != 0;
        let last = h.flags & PFC_LAST_FRAG != 0;
        match (h.ptype, dir) {
            (PduType::Request, Direction::ToServer) => {
                let Some(r) = parse_request(pdu, &h) else {
                    return self.raise(DcerpcEvent::MalformedBody);
                };
                let i = match self.open_call(h.call_id, 0) {
                    Some(i) if !first => i,
                    _ => {
                        if !first {
                            self.raise(DcerpcEvent::FragmentWithoutFirst);
                        }
                        let i = self.new_tx(h.call_id, h.minor);
                        let t = &mut self.txs[i];
                        t.sides[0].ptype = Some(PduType::Request);
                        t.ctx_id = r.ctx_id;
                        t.opnum = Some(r.opnum);
                        i
                    }
                };
                let stub = pdu.get(r.stub.0..r.stub.1).unwrap_or(&[]);
                self.add_stub(i, 0, stub);
                let t = &mut self.txs[i];
                t.sides[0].frags += 1;
                t.sides[0].done = last;
            }
            (PduType::Bind | PduType::AlterContext, Direction::ToServer) => {
                let Some(ctxs) = parse_bind(pdu, &h) else {
                    return self.raise(DcerpcEvent::MalformedBody);
                };
                let i = self.new_tx(h.call_id, h.minor);
                self.proposed.clear();
                for c in &ctxs {
                    self.proposed.push(c.ctx_id);
                    // A context id proposed again is bound anew.
                    self.ifaces.retain(|f| f.ctx.ctx_id != c.ctx_id);
                    if self.ifaces.len() >= MAX_CONTEXTS {
                        self.counts[DcerpcEvent::TooManyContexts as usize] += 1;
                        continue;
                    }
                    self.ifaces.push(Iface {
                        ctx: *c,
                        ack_result: None,
                    });
                }
                let t = &mut self.txs[i];
                t.sides[0] = CallSide {
                    ptype: Some(h.ptype),
                    frags: 1,
                    done: true,
                    ..CallSide::default()
                };
                t.bound = ctxs.iter().map(|c| c.ctx_id).collect();
            }
            (PduType::BindAck | PduType::AlterContextResp, Direction::ToClient) => {
                let Some(results) = parse_bind_ack(pdu, &h) else {
                    return self.raise(DcerpcEvent::MalformedBody);
                };
                for (ctx_id, r) in self.proposed.iter().zip(&results) {
                    if let Some(f) = self.ifaces.iter_mut().find(|f| f.ctx.ctx_id == *ctx_id) {
                        f.ack_result = Some(*r);
                    }
                }
                self.answer(&h, &[]);
            }
            (PduType::Response, Direction::ToClient) => {
                let Some((_, (a, b))) = parse_response(pdu, &h) else {
                    return self.raise(DcerpcEvent::MalformedBody);
                };
                let stub = pdu.get(a..b).unwrap_or(&[]);
                self.answer(&h, stub);
            }
            (PduType::BindNak | PduType::Fault, Direction::ToClient) => self.answer(&h, &[]),
            // AUTH3, cancels, shutdown, and PDUs going the wrong way.
            _ => {}
        }
    }

    /// A server PDU answering call `h.call_id`, carrying `stub`.
    fn answer(&mut self, h: &parser::Header, stub: &[u8]) {
        let first = h.flags & PFC_FIRST_FRAG != 0;
        let last = h.flags & PFC_LAST_FRAG != 0 || !matches!(h.ptype, PduType::Response);
        let i = match self.open_call(h.call_id, 1) {
            Some(i) if !first => i,
            _ => match self.awaiting_answer(h.call_id) {
                Some(i) => i,
                None => self.new_tx(h.call_id, h.minor),
            },
        };
        if self.txs[i].sides[1].ptype.is_none() {
            self.txs[i].sides[1].ptype = Some(h.ptype);
        }
        self.add_stub(i, 1, stub);
        let t = &mut self.txs[i];
        t.sides[1].frags += 1;
        t.sides[1].done = last;
        // A call answered without its request seen is over too.
        if t.sides[0].ptype.is_none() {
            t.sides[0].done = true;
        }
    }
}

/// A DCERPC transaction's detection buffers, per direction: stub data of
/// that direction's side, the request's opnum, and the interfaces it may use.
pub fn for_each_buffer(
    st: &DcerpcState,
    tx: &DcerpcTx,
    dir: Direction,
    mut f: impl FnMut(&'static str, &[u8]),
) {
    let stub = &tx.sides[slot(dir)].stub;
    if !stub.is_empty() && (tx.is_request() || dir == Direction::ToClient) {
        f("dcerpc.stub_data", stub);
    }
    if let Some(op) = tx.opnum.filter(|_| tx.is_request()) {
        f("dcerpc.opnum", &op.to_be_bytes());
    }
    for i in st.call_ifaces(tx) {
        let mut b = [0u8; 18];
        b[..16].copy_from_slice(&i.ctx.uuid);
        b[16..].copy_from_slice(&i.ctx.ver_major.to_be_bytes());
        f("dcerpc.iface", &b);
    }
}

/// Buffer names DCERPC provides.
pub const BUFFER_NAMES: &[&str] = &["dcerpc.stub_data", "dcerpc.opnum", "dcerpc.iface"];

/// Whether the first bytes of a TCP direction look like a DCERPC PDU: a
/// version 5.0/5.1 header of a BIND, ALTER_CONTEXT, REQUEST or their answers,
/// with a sane data representation and fragment length.
pub fn probe(b: &[u8]) -> crate::app::detect::Probe {
    use crate::app::detect::Probe;
    if b.is_empty() {
        return Probe::NoMatch;
    }
    let prefix_ok = b[0] == 5 && b.get(1).is_none_or(|m| *m <= 1);
    if !prefix_ok {
        return Probe::NoMatch;
    }
    if b.len() < HEADER_LEN {
        return Probe::NeedMore;
    }
    let Ok(h) = parse_header(b) else {
        return Probe::NoMatch;
    };
    let known = matches!(
        h.ptype,
        PduType::Bind
            | PduType::BindAck
            | PduType::BindNak
            | PduType::AlterContext
            | PduType::AlterContextResp
            | PduType::Request
            | PduType::Response
            | PduType::Fault
    );
    // Data representation: integer and character formats are 0 or 1, the
    // floating point one 0 to 3; the rest is zero.
    let drep_ok = b[4] & 0xee == 0 && b[5] <= 3 && b[6] == 0 && b[7] == 0;
    if known && drep_ok && usize::from(h.auth_len) + HEADER_LEN <= usize::from(h.frag_len) {
        Probe::Match
    } else {
        Probe::NoMatch
    }
}

#[cfg(test)]
mod test {
    use super::parser::test::{hex, BIND, BIND_ACK, REQUEST, RESPONSE};
    use super::*;

    fn session() -> Vec<(Direction, Vec<u8>)> {
        vec![
            (Direction::ToServer, hex(BIND)),
            (Direction::ToClient, hex(BIND_ACK)),
            (Direction::ToServer, hex(REQUEST)),
            (Direction::ToClient, hex(RESPONSE)),
        ]
    }

    fn ifaces_of(st: &DcerpcState, tx: &DcerpcTx) -> Vec<String> {
        st.call_ifaces(tx)
            .map(|i| parser::uuid_text(&i.ctx.uuid))
            .collect()
    }

    #[test]
    fn bind_ack_request_response_in_any_chunking() {
        for step in [1, 3, 16, 17, 1000] {
            let mut st = DcerpcState::new();
            for (d, b) in session() {
                for c in b.chunks(step) {
                    st.parse(c, d);
                }
            }
            let txs = st.transactions();
            assert_eq!(txs.len(), 2, "step {step}");
            let (bind, call) = (&txs[0], &txs[1]);
            assert_eq!(bind.sides[0].ptype, Some(PduType::Bind));
            assert_eq!(bind.sides[1].ptype, Some(PduType::BindAck));
            assert!(ifaces_of(&st, bind).is_empty(), "a bind is no request");
            assert_eq!((call.call_id, call.opnum, call.ctx_id), (27, Some(4), 1));
            assert_eq!(call.sides[0].stub, b"\x09\0\0\0\0\x01\0\0");
            assert_eq!(call.sides[1].stub.len(), 60);
            assert!(call.complete());
            // Context 0 was rejected, context 1 (the one used) accepted.
            assert_eq!(
                ifaces_of(&st, call),
                ["afa8bd80-7d8a-11c9-bef4-08002b102989"]
            );
            assert!(DcerpcEvent::ALL.iter().all(|e| st.count(*e) == 0));
        }
    }

    #[test]
    fn fragments_are_joined_and_capped() {
        let mut st = DcerpcState::new();
        st.parse(&hex(BIND), Direction::ToServer);
        st.parse(&hex(BIND_ACK), Direction::ToClient);
        // The request split in three fragments.
        let req = hex(REQUEST);
        for (i, flags) in [(0u8, 0x81u8), (1, 0x80), (2, 0x82)] {
            let mut p = req.clone();
            p[3] = flags;
            p[40] = i;
            st.parse(&p, Direction::ToServer);
        }
        let call = &st.transactions()[1];
        assert_eq!(call.sides[0].frags, 3);
        assert!(call.sides[0].done);
        assert_eq!(call.sides[0].stub.len(), 24);
        assert_eq!((call.sides[0].stub[0], call.sides[0].stub[16]), (0, 2));
        // A middle fragment alone.
        let mut p = req.clone();
        p[3] = 0x80;
        p[12] = 99;
        st.parse(&p, Direction::ToServer);
        assert_eq!(st.count(DcerpcEvent::FragmentWithoutFirst), 1);
        // The stub cap.
        let mut st = DcerpcState::new();
        let mut p = hex(REQUEST);
        // First fragment, no object UUID: the 16 bytes after the fixed
        // fields are stub data too.
        p[3] = 0x01;
        let body = vec![0u8; 60_000];
        let len = (24 + 16 + body.len()) as u16;
        p.truncate(40);
        p[8..10].copy_from_slice(&len.to_le_bytes());
        p.extend_from_slice(&body);
        for _ in 0..20 {
            st.parse(&p, Direction::ToServer);
            p[3] = 0x00;
        }
        assert_eq!(st.transactions()[0].sides[0].stub.len(), MAX_STUB);
        assert_eq!(st.transactions()[0].sides[0].stub_len, 20 * 60_016);
        assert_eq!(st.count(DcerpcEvent::StubTooLarge), 1);
    }

    #[test]
    fn garbage_and_gaps_resync_on_the_next_header() {
        let mut st = DcerpcState::new();
        let mut ts = b"\x01\x02garbage before".to_vec();
        ts.extend(hex(BIND));
        st.parse(&ts, Direction::ToServer);
        assert_eq!(st.count(DcerpcEvent::MalformedHeader), 1);
        st.parse(&hex(BIND_ACK)[..30], Direction::ToClient);
        st.gap(Direction::ToClient);
        st.parse(&hex(BIND_ACK), Direction::ToClient);
        st.parse(&hex(REQUEST), Direction::ToServer);
        let call = &st.transactions()[1];
        assert_eq!(ifaces_of(&st, call).len(), 1);
    }

    #[test]
    fn caps_on_transactions() {
        let mut st = DcerpcState::new();
        let mut req = hex(REQUEST);
        for id in 0..(MAX_TRANSACTIONS as u32 + 5) {
            req[12..16].copy_from_slice(&id.to_le_bytes());
            st.parse(&req, Direction::ToServer);
        }
        assert_eq!(st.transactions().len(), MAX_TRANSACTIONS);
        assert_eq!(st.count(DcerpcEvent::TooManyTransactions), 5);
    }

    #[test]
    fn probe_by_content() {
        use crate::app::detect::Probe;
        assert_eq!(probe(&hex(BIND)), Probe::Match);
        assert_eq!(probe(&hex(BIND)[..10]), Probe::NeedMore);
        assert_eq!(probe(b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
        let mut b = hex(BIND);
        b[2] = 16; // AUTH3 does not start an association
        assert_eq!(probe(&b), Probe::NoMatch);
    }

    #[test]
    fn pseudo_random_input_never_panics() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let base: Vec<u8> = session().into_iter().flat_map(|(_, b)| b).collect();
        for _ in 0..3000 {
            let mut st = DcerpcState::new();
            let mut b = base.clone();
            for _ in 0..(next() % 8) {
                let i = (next() as usize) % b.len();
                b[i] = next() as u8;
            }
            let cut = (next() as usize) % b.len();
            st.parse(&b[..cut], Direction::ToServer);
            if next() % 3 == 0 {
                st.gap(Direction::ToServer);
            }
            st.parse(&b[cut..], Direction::ToClient);
            st.parse(&b, Direction::ToServer);
            for t in st.transactions() {
                let mut n = 0;
                for_each_buffer(&st, t, Direction::ToServer, |_, _| n += 1);
            }
        }
    }
}
