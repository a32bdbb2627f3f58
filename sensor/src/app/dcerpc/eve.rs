//! DCERPC EVE output: the `dcerpc` object of a call, as the reference IDS
//! writes it on `dcerpc` events and on the alerts of a call.

use serde_json::{json, Map, Value};

use super::parser::{uuid_text, PduType};
use super::{DcerpcState, DcerpcTx, Iface};

fn iface_json(i: &Iface) -> Value {
    let mut o = Map::new();
    o.insert("uuid".into(), json!(uuid_text(&i.ctx.uuid)));
    o.insert(
        "version".into(),
        json!(format!("{}.{}", i.ctx.ver_major, i.ctx.ver_minor)),
    );
    if let Some(r) = i.ack_result {
        o.insert("ack_result".into(), json!(r));
    }
    Value::Object(o)
}

/// The `dcerpc` object of call `tx` of `st`.
pub fn eve_dcerpc(st: &DcerpcState, tx: &DcerpcTx) -> Value {
    let mut o = Map::new();
    let name = |p: Option<PduType>| p.map_or("UNREPLIED", |p| p.eve_name());
    o.insert("request".into(), json!(name(tx.sides[0].ptype)));
    o.insert("response".into(), json!(name(tx.sides[1].ptype)));
    match tx.sides[0].ptype {
        Some(PduType::Bind | PduType::AlterContext) => {
            let list: Vec<Value> = tx
                .bound
                .iter()
                .filter_map(|c| st.iface_of(*c))
                .map(iface_json)
                .collect();
            o.insert("interfaces".into(), Value::Array(list));
        }
        Some(PduType::Request) => {
            let s = &tx.sides[0];
            o.insert(
                "req".into(),
                json!({
                    "opnum": tx.opnum.unwrap_or(0),
                    "frag_cnt": s.frags,
                    "stub_data_size": s.stub_len,
                }),
            );
            if let Some(i) = st.iface_of(tx.ctx_id) {
                o.insert("interfaces".into(), Value::Array(vec![iface_json(i)]));
            }
        }
        _ => {}
    }
    if tx.sides[1].ptype == Some(PduType::Response) {
        let s = &tx.sides[1];
        o.insert(
            "res".into(),
            json!({"frag_cnt": s.frags, "stub_data_size": s.stub_len}),
        );
    }
    o.insert("call_id".into(), json!(tx.call_id));
    o.insert("rpc_version".into(), json!(format!("5.{}", tx.minor)));
    Value::Object(o)
}
