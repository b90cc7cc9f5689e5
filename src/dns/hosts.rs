//! `/etc/hosts` (hosts(5)): `ADDRESS NAME [ALIASES...]`, `#` comments.
//! IPv4 and IPv6 entries; a name listed several times keeps every address
//! in file order (as glibc's files backend returns them), once each.
//! Scoped addresses (`fe80::1%eth0`) do not parse and are skipped: they
//! name a host interface tunstack does not have.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

/// Most addresses kept per name (a hosts file is trusted, but bounded).
const MAX_ADDRS_PER_NAME: usize = 64;

/// Name → addresses table from a hosts file.
#[derive(Clone, Debug, Default)]
pub struct Hosts {
    map: HashMap<String, Vec<IpAddr>>,
}

impl Hosts {
    /// Parses hosts-file text; malformed lines are skipped.
    pub fn parse(text: &str) -> Hosts {
        let mut map: HashMap<String, Vec<IpAddr>> = HashMap::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut fields = line.split_whitespace();
            let Some(Ok(addr)) = fields.next().map(str::parse::<IpAddr>) else {
                continue;
            };
            for name in fields {
                let addrs = map
                    .entry(name.trim_end_matches('.').to_ascii_lowercase())
                    .or_default();
                if !addrs.contains(&addr) && addrs.len() < MAX_ADDRS_PER_NAME {
                    addrs.push(addr);
                }
            }
        }
        Hosts { map }
    }

    /// The first IPv4 address for `name`, if listed.
    pub fn lookup(&self, name: &str) -> Option<Ipv4Addr> {
        self.lookup_all(name)?.iter().find_map(|a| match a {
            IpAddr::V4(v4) => Some(*v4),
            IpAddr::V6(_) => None,
        })
    }

    /// Every address listed for `name`, both families, in file order;
    /// `None` if the name is not listed at all.
    pub fn lookup_all(&self, name: &str) -> Option<&[IpAddr]> {
        self.map
            .get(&name.trim_end_matches('.').to_ascii_lowercase())
            .map(Vec::as_slice)
    }

    /// Number of names listed.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True if no names are listed.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    #[test]
    fn parses_names_aliases_and_comments() {
        let h = Hosts::parse(
            "# comment\n127.0.0.1 localhost\n10.0.0.1  Server.Test web # trailing\n::1 ip6-localhost\n10.0.0.9 web\nbogus line\n",
        );
        assert_eq!(h.lookup("server.test"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(
            h.lookup("WEB."),
            Some(Ipv4Addr::new(10, 0, 0, 1)),
            "first IPv4 entry wins"
        );
        assert_eq!(h.lookup("ip6-localhost"), None, "no IPv4 address");
        assert_eq!(
            h.lookup_all("ip6-localhost"),
            Some(&[IpAddr::V6(Ipv6Addr::LOCALHOST)][..])
        );
        assert_eq!(h.len(), 4);
    }

    #[test]
    fn a_name_with_both_families_keeps_both_in_file_order() {
        let h = Hosts::parse(
            "fd00::1 dual.test\n10.0.0.1 dual.test\nfd00::1 dual.test\nfe80::1%eth0 dual.test\n",
        );
        let want: [IpAddr; 2] = ["fd00::1".parse().unwrap(), "10.0.0.1".parse().unwrap()];
        assert_eq!(h.lookup_all("dual.test"), Some(&want[..]), "once each");
        assert_eq!(h.lookup("dual.test"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(h.lookup_all("other.test"), None);
    }
}
