//! `/etc/hosts` (hosts(5)): `ADDRESS NAME [ALIASES...]`, `#` comments.
//! IPv4 entries only; the first entry for a name wins.

use std::collections::HashMap;
use std::net::Ipv4Addr;

/// Name → address table from a hosts file.
#[derive(Clone, Debug, Default)]
pub struct Hosts {
    map: HashMap<String, Ipv4Addr>,
}

impl Hosts {
    /// Parses hosts-file text; malformed lines are skipped.
    pub fn parse(text: &str) -> Hosts {
        let mut map = HashMap::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut fields = line.split_whitespace();
            let Some(Ok(addr)) = fields.next().map(str::parse::<Ipv4Addr>) else {
                continue;
            };
            for name in fields {
                map.entry(name.trim_end_matches('.').to_ascii_lowercase())
                    .or_insert(addr);
            }
        }
        Hosts { map }
    }

    /// The address for `name`, if listed.
    pub fn lookup(&self, name: &str) -> Option<Ipv4Addr> {
        self.map
            .get(&name.trim_end_matches('.').to_ascii_lowercase())
            .copied()
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

    #[test]
    fn parses_names_aliases_and_comments() {
        let h = Hosts::parse(
            "# comment\n127.0.0.1 localhost\n10.0.0.1  Server.Test web # trailing\n::1 ip6-localhost\n10.0.0.9 web\nbogus line\n",
        );
        assert_eq!(h.lookup("server.test"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(
            h.lookup("WEB."),
            Some(Ipv4Addr::new(10, 0, 0, 1)),
            "first entry wins"
        );
        assert_eq!(h.lookup("ip6-localhost"), None, "IPv4 only");
        assert_eq!(h.len(), 3);
    }
}
