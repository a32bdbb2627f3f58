//! Network interfaces a live capture could use (listed with pnet's datalink layer).

/// One interface: name, whether it is up, its MAC and addresses.
#[derive(Debug, Clone)]
pub struct InterfaceInfo {
    /// Kernel name, e.g. `eth0`.
    pub name: String,
    /// Interface is administratively up.
    pub up: bool,
    /// MAC address, if any.
    pub mac: Option<String>,
    /// IP networks configured on it.
    pub addrs: Vec<String>,
}

/// Lists the machine's interfaces.
pub fn list() -> Vec<InterfaceInfo> {
    pnet_datalink::interfaces()
        .into_iter()
        .map(|i| InterfaceInfo {
            up: i.is_up(),
            mac: i.mac.map(|m| m.to_string()),
            addrs: i.ips.iter().map(|n| n.to_string()).collect(),
            name: i.name,
        })
        .collect()
}

#[cfg(test)]
mod test {
    #[test]
    fn loopback_is_listed() {
        let all = super::list();
        assert!(
            all.iter()
                .any(|i| i.name == "lo" || i.name.starts_with("lo")),
            "{all:?}"
        );
    }
}
