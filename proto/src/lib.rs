//! Protobuf types of the vigie wire format (`proto/vigie/v1/*.proto`), generated at
//! build time with protox + prost-build.
#![deny(missing_docs)]

/// `vigie.v1` package.
#[allow(missing_docs, clippy::all)]
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/vigie.v1.rs"));
}

#[cfg(test)]
mod test {
    use super::v1::{Alert, Batch};
    use prost::Message;

    #[test]
    fn batch_round_trips() {
        let b = Batch {
            batch_seq: 7,
            alerts: vec![Alert {
                id: "s1-1".into(),
                signature_id: 2_000_001,
                ..Default::default()
            }],
            health: None,
        };
        let bytes = b.encode_to_vec();
        let back = Batch::decode(bytes.as_slice()).unwrap();
        assert_eq!(back, b);
    }
}
