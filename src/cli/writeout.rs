//! `-w/--write-out`: curl's report after a transfer. [`Observed`] gathers
//! what the variables need while the transfer runs (the connector records
//! the lookup and the handshake, the connection its first byte, `fetch`
//! the status and the final URL); [`render`] fills in the format.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// What one `get` saw, shared by the connector, its connections and
/// `fetch`.
#[derive(Debug, Default, Clone)]
pub(crate) struct Observed {
    pub namelookup: Option<Instant>,
    pub connect: Option<Instant>,
    /// The TLS handshake finished (https only; curl reports 0 otherwise).
    pub appconnect: Option<Instant>,
    pub first_byte: Option<Instant>,
    pub remote: Option<SocketAddr>,
    pub local_port: Option<u16>,
    pub connects: u64,
    /// The connect was refused (a RST answered the SYN), for
    /// `--retry-connrefused`.
    pub refused: bool,
    pub status: u16,
    pub url: String,
    pub size_download: u64,
    /// Every response head received, redirects first (`-i`, `-D`).
    pub heads: Vec<crate::http::Head>,
}

/// [`Observed`] behind a lock, cloned into every connection.
#[derive(Debug, Default, Clone)]
pub(crate) struct Shared(Arc<Mutex<Observed>>);

impl Shared {
    /// Applies `f` to the observations (a poisoned lock still records).
    pub fn update(&self, f: impl FnOnce(&mut Observed)) {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// Forgets everything: the next transfer starts.
    pub fn reset(&self) {
        self.update(|o| *o = Observed::default());
    }

    pub fn get(&self) -> Observed {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The end of a transfer, for `%{exitcode}`, `%{errormsg}` and the times.
pub(crate) struct Outcome<'a> {
    pub start: Instant,
    pub end: Instant,
    pub exitcode: i32,
    pub errormsg: &'a str,
}

/// Expands `%{name}` variables and the `\n`, `\r`, `\t`, `\\` escapes of
/// `format`, as curl does; `%%` is a `%`. Unknown variables expand to
/// nothing (curl warns and does the same).
pub(crate) fn render(format: &str, o: &Observed, end: &Outcome<'_>) -> String {
    let secs = |t: Option<Instant>| {
        t.map_or(0.0, |t| {
            t.saturating_duration_since(end.start).as_secs_f64()
        })
    };
    let total = end.end.saturating_duration_since(end.start).as_secs_f64();
    let mut out = String::new();
    let mut rest = format;
    while let Some(i) = rest.find(['%', '\\']) {
        out.push_str(rest.get(..i).unwrap_or(""));
        let tail = rest.get(i..).unwrap_or("");
        if let Some(after) = tail.strip_prefix("%{") {
            if let Some(close) = after.find('}') {
                let name = after.get(..close).unwrap_or("");
                let _ = match name {
                    "http_code" | "response_code" => write!(out, "{:03}", o.status),
                    "time_namelookup" => write!(out, "{:.6}", secs(o.namelookup)),
                    "time_connect" => write!(out, "{:.6}", secs(o.connect)),
                    // No TLS on plain http: curl reports 0.
                    "time_appconnect" => write!(out, "{:.6}", secs(o.appconnect)),
                    "time_starttransfer" => write!(out, "{:.6}", secs(o.first_byte)),
                    "time_total" => write!(out, "{total:.6}"),
                    "size_download" => write!(out, "{}", o.size_download),
                    "speed_download" => write!(
                        out,
                        "{}",
                        if total > 0.0 {
                            (o.size_download as f64 / total) as u64
                        } else {
                            0
                        }
                    ),
                    "remote_ip" => write!(
                        out,
                        "{}",
                        o.remote.map(|a| a.ip().to_string()).unwrap_or_default()
                    ),
                    "remote_port" => {
                        write!(out, "{}", o.remote.map_or(0, |a| a.port()))
                    }
                    "local_port" => write!(out, "{}", o.local_port.unwrap_or(0)),
                    "num_connects" => write!(out, "{}", o.connects),
                    "url_effective" => write!(out, "{}", o.url),
                    "exitcode" => write!(out, "{}", end.exitcode),
                    "errormsg" => write!(out, "{}", end.errormsg),
                    _ => Ok(()),
                };
                rest = after.get(close + 1..).unwrap_or("");
                continue;
            }
        }
        let (text, skip) = match tail.get(..2) {
            Some("%%") => ("%", 2),
            Some("\\n") => ("\n", 2),
            Some("\\r") => ("\r", 2),
            Some("\\t") => ("\t", 2),
            Some("\\\\") => ("\\", 2),
            _ => (tail.get(..1).unwrap_or(""), 1),
        };
        out.push_str(text);
        rest = tail.get(skip..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn variables_and_escapes_expand_as_curl_does() {
        let start = Instant::now();
        let o = Observed {
            namelookup: Some(start + Duration::from_millis(1)),
            connect: Some(start + Duration::from_millis(2)),
            appconnect: None,
            first_byte: Some(start + Duration::from_millis(3)),
            remote: Some("10.0.0.1:8080".parse().unwrap()),
            local_port: Some(40000),
            connects: 1,
            refused: false,
            status: 200,
            url: "http://10.0.0.1:8080/x".into(),
            size_download: 1000,
            heads: Vec::new(),
        };
        let end = Outcome {
            start,
            end: start + Duration::from_secs(2),
            exitcode: 0,
            errormsg: "",
        };
        assert_eq!(
            render(
                "%{http_code} %{remote_ip}:%{remote_port} %{local_port} %{num_connects} %{url_effective} %{size_download} %{speed_download} %{exitcode}[%{errormsg}]\\n",
                &o,
                &end
            ),
            "200 10.0.0.1:8080 40000 1 http://10.0.0.1:8080/x 1000 500 0[]\n"
        );
        assert_eq!(
            render("%{time_connect} %{time_total} %{time_appconnect}", &o, &end),
            "0.002000 2.000000 0.000000"
        );
        assert_eq!(render("100%% \\t%{nope}%{", &o, &end), "100% \t%{");
        let failed = Observed::default();
        assert_eq!(render("%{http_code}", &failed, &end), "000");
    }
}
