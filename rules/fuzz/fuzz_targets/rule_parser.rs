//! Fuzz the rule parser and compiler: any text must load or be rejected with a
//! reason, never panic; whatever loads must build and inspect a packet.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie_rules::signature::{DetectScratch, EngineBuilder, FlowVars, PacketInput};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut b = EngineBuilder::new();
    b.add_str(&text, "fuzz");
    let report = b.report();
    assert_eq!(report.rejected.len(), report.rejected_count());
    if let Ok(engine) = b.build() {
        let mut p = PacketInput::new([10, 0, 0, 1].into(), [10, 0, 0, 2].into(), 6, data);
        p.dport = 80;
        engine.inspect(
            &p,
            &mut FlowVars::default(),
            &mut DetectScratch::new(),
            &mut Vec::new(),
        );
    }
});
