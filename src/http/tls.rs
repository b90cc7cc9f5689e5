//! TLS for `https://` (RFC 8446 TLS 1.3, RFC 5246 TLS 1.2) over any
//! `Read + Write`, with rustls and its `ring` provider (no C build step).
//!
//! The client sends SNI (RFC 6066 §3) and offers ALPN `http/1.1`
//! (RFC 7301), and checks the server's certificate chain and host name
//! (RFC 6125) against the system's CA store, as curl does, or against the
//! roots it is given. The handshake is completed eagerly in [`handshake`]
//! so that certificate and protocol failures surface at connect time with
//! a [`TlsError`] that says which of the two it was (curl's exit codes 60
//! and 35). `SSLKEYLOGFILE` is honoured so that captures can be decrypted.
//!
//! This module never opens a socket: the connector hands it a connected
//! stream and decides whether to wrap it.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
pub use rustls::pki_types::pem::PemObject;
pub use rustls::pki_types::CertificateDer;
use rustls::pki_types::{ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use std::fmt;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

/// Which of curl's two TLS failures this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsErrorKind {
    /// The server's certificate was not trusted: unknown issuer, expired,
    /// wrong host name (curl's exit 60).
    Certificate,
    /// The handshake failed otherwise: no common version or cipher, an
    /// alert, a peer that closed mid-handshake (curl's exit 35).
    Handshake,
    /// The TLS settings themselves are unusable (an unreadable `--cacert`).
    Config,
}

/// A TLS failure with its kind and a one-line reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsError {
    /// What failed.
    pub kind: TlsErrorKind,
    /// Why, in one line.
    pub message: String,
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            TlsErrorKind::Certificate => write!(f, "TLS certificate problem: {}", self.message),
            TlsErrorKind::Handshake => write!(f, "TLS handshake failed: {}", self.message),
            TlsErrorKind::Config => write!(f, "TLS setup: {}", self.message),
        }
    }
}

impl std::error::Error for TlsError {}

impl TlsError {
    fn config(message: impl Into<String>) -> TlsError {
        TlsError {
            kind: TlsErrorKind::Config,
            message: message.into(),
        }
    }

    /// Classifies a rustls error, in words a user can act on.
    fn from_rustls(e: &rustls::Error) -> TlsError {
        use rustls::{AlertDescription as A, CertificateError as C, Error as E};
        let (kind, message) = match e {
            E::InvalidCertificate(C::UnknownIssuer) => (
                TlsErrorKind::Certificate,
                "unknown issuer: the server's certificate is not signed by a trusted CA                  (see --cacert, -k)"
                    .to_string(),
            ),
            E::InvalidCertificate(_)
            | E::NoCertificatesPresented
            | E::InvalidCertRevocationList(_) => (TlsErrorKind::Certificate, e.to_string()),
            E::AlertReceived(A::ProtocolVersion) => (
                TlsErrorKind::Handshake,
                format!("the server supports none of the offered TLS versions ({e})"),
            ),
            _ => (TlsErrorKind::Handshake, e.to_string()),
        };
        TlsError { kind, message }
    }

    /// The TLS error an io::Error carries, if any.
    pub fn from_io(e: &io::Error) -> Option<TlsError> {
        let inner = e.get_ref()?;
        if let Some(t) = inner.downcast_ref::<TlsError>() {
            return Some(t.clone());
        }
        inner
            .downcast_ref::<rustls::Error>()
            .map(TlsError::from_rustls)
    }
}

impl From<TlsError> for io::Error {
    fn from(e: TlsError) -> io::Error {
        let kind = match e.kind {
            TlsErrorKind::Config => io::ErrorKind::InvalidInput,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e)
    }
}

/// Lowest protocol version the client accepts (curl's `--tlsv1.2`,
/// `--tlsv1.3`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MinVersion {
    /// TLS 1.2 or 1.3 (the default).
    #[default]
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

/// Builds a [`TlsConfig`]: which roots to trust, whether to verify, the
/// lowest version.
#[derive(Clone, Debug, Default)]
pub struct TlsConfigBuilder {
    /// Roots instead of the system store (curl's `--cacert`).
    roots: Option<Vec<CertificateDer<'static>>>,
    insecure: bool,
    min: MinVersion,
}

impl TlsConfigBuilder {
    /// Trusts exactly `roots` (DER) instead of the system's CA store.
    #[must_use]
    pub fn root_certificates(mut self, roots: Vec<CertificateDer<'static>>) -> TlsConfigBuilder {
        self.roots = Some(roots);
        self
    }

    /// Trusts the certificates of the PEM file `path` instead of the
    /// system's CA store (curl's `--cacert`).
    ///
    /// # Errors
    /// A [`TlsErrorKind::Config`] error when the file cannot be read or
    /// holds no certificate.
    pub fn ca_file(self, path: &Path) -> Result<TlsConfigBuilder, TlsError> {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| TlsError::config(format!("cannot read {}: {e}", path.display())))?
            .collect::<Result<_, _>>()
            .map_err(|e| TlsError::config(format!("{}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(TlsError::config(format!(
                "{}: no PEM certificate in it",
                path.display()
            )));
        }
        Ok(self.root_certificates(certs))
    }

    /// Skips verification of the server's certificate (curl's `-k`); the
    /// handshake still proves the server holds the certificate's key, and
    /// [`TlsInfo::verify`] says what verification would have found.
    #[must_use]
    pub fn insecure(mut self, on: bool) -> TlsConfigBuilder {
        self.insecure = on;
        self
    }

    /// The lowest protocol version accepted.
    #[must_use]
    pub fn min_version(mut self, min: MinVersion) -> TlsConfigBuilder {
        self.min = min;
        self
    }

    /// The configuration.
    ///
    /// # Errors
    /// A [`TlsErrorKind::Config`] error when no root could be loaded.
    pub fn build(self) -> Result<TlsConfig, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        match self.roots {
            Some(certs) => {
                let (added, _ignored) = roots.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(TlsError::config("no usable root certificate"));
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(found.certs);
            }
        }
        let versions: &[&rustls::SupportedProtocolVersion] = match self.min {
            MinVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
            MinVersion::Tls13 => &[&rustls::version::TLS13],
        };
        let record = Arc::new(Recorded::default());
        // An empty store cannot build a WebPKI verifier; every chain then
        // fails as an unknown issuer, which is what curl reports too.
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .ok();
        let verifier = Arc::new(Verifier {
            webpki,
            provider: provider.clone(),
            insecure: self.insecure,
            record: record.clone(),
        });
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .map_err(|e| TlsError::config(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        // Writes the session secrets to $SSLKEYLOGFILE when it is set.
        config.key_log = Arc::new(rustls::KeyLogFile::new());
        Ok(TlsConfig {
            config: Arc::new(config),
            record,
        })
    }
}

/// A client TLS configuration, cheap to clone and share between threads.
#[derive(Clone, Debug)]
pub struct TlsConfig {
    config: Arc<ClientConfig>,
    record: Arc<Recorded>,
}

impl TlsConfig {
    /// A builder with the defaults: the system's CA store, verification
    /// on, TLS 1.2 or newer.
    pub fn builder() -> TlsConfigBuilder {
        TlsConfigBuilder::default()
    }

    /// The rustls configuration.
    pub fn rustls(&self) -> &Arc<ClientConfig> {
        &self.config
    }
}

/// What the verifier found, per host, for `-v` (with `-k` the handshake
/// succeeds either way). Bounded: one entry per connection in flight,
/// taken by the handshake that recorded it.
#[derive(Debug, Default)]
struct Recorded {
    results: Mutex<Vec<(String, Result<(), String>)>>,
}

const MAX_RECORDED: usize = 64;

impl Recorded {
    fn put(&self, host: String, result: Result<(), String>) {
        let mut r = self.results.lock().unwrap_or_else(PoisonError::into_inner);
        if r.len() >= MAX_RECORDED {
            let _evicted = r.remove(0);
        }
        r.push((host, result));
    }

    fn take(&self, host: &str) -> Option<Result<(), String>> {
        let mut r = self.results.lock().unwrap_or_else(PoisonError::into_inner);
        let i = r.iter().rposition(|(h, _)| h == host)?;
        Some(r.remove(i).1)
    }
}

/// WebPKI verification (chain, validity, host name), which with
/// `insecure` is recorded instead of enforced. Signatures over the
/// handshake are always checked.
#[derive(Debug)]
struct Verifier {
    webpki: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
    insecure: bool,
    record: Arc<Recorded>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let result = match &self.webpki {
            Some(w) => w
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                .map(|_| ()),
            None => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            )),
        };
        self.record.put(
            server_name.to_str().into_owned(),
            result
                .as_ref()
                .map(|_| ())
                .map_err(|e| TlsError::from_rustls(e).message),
        );
        match result {
            Ok(()) => Ok(ServerCertVerified::assertion()),
            Err(_) if self.insecure => Ok(ServerCertVerified::assertion()),
            Err(e) => Err(e),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// What a finished handshake agreed on, for `-v`.
#[derive(Clone, Debug)]
pub struct TlsInfo {
    /// `TLSv1.3` or `TLSv1.2`.
    pub version: String,
    /// The cipher suite, by its IANA name.
    pub cipher_suite: String,
    /// The ALPN protocol the server chose, if any.
    pub alpn: Option<String>,
    /// The server's certificate chain (DER), leaf first.
    pub peer_certificates: Vec<CertificateDer<'static>>,
    /// What verification found: `Ok` or the reason it failed (only
    /// possible with [`TlsConfigBuilder::insecure`]).
    pub verify: Result<(), String>,
}

/// How the peer ended its side of a TLS connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerClose {
    /// It sent `close_notify` (RFC 8446 §6.1): everything it sent arrived.
    Notified,
    /// The transport ended without `close_notify`: what arrived may have
    /// been cut short by anyone on the path (a truncation attack), so only
    /// the application's own framing (a Content-Length, the last chunk)
    /// can say whether the data is whole.
    Truncated,
}

/// A client TLS connection over `S`.
///
/// Reading returns end-of-file both after the peer's `close_notify` and
/// after a transport EOF without one ([`TlsStream::peer_close`] tells them
/// apart), as curl treats them: HTTP's framing then decides whether a body
/// is whole, so a body with a known length that ends early is a partial
/// file. [`TlsStream::close`] (which the connectors' teardown after a
/// whole response calls) sends our own `close_notify` before the
/// transport closes; dropping the stream without it closes the transport
/// without the alert, as curl (8.9+) ends a transfer that was cut short
/// (a partial file, a timeout, any error): the connection is abandoned,
/// not shut down.
pub struct TlsStream<S: Read + Write> {
    inner: rustls::StreamOwned<ClientConnection, ReadBuf<S>>,
    info: TlsInfo,
    peer_close: Option<PeerClose>,
    notify_sent: bool,
}

impl<S: Read + Write> fmt::Debug for TlsStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsStream")
            .field("info", &self.info)
            .finish()
    }
}

/// Runs the client handshake for `host` over `sock` to its end.
///
/// # Errors
/// A [`TlsError`] inside the io::Error for certificate and protocol
/// failures (see [`TlsError::from_io`]); the transport's own error
/// (a timeout, say) otherwise.
pub fn handshake<S: Read + Write>(
    config: &TlsConfig,
    host: &str,
    sock: S,
) -> io::Result<TlsStream<S>> {
    let name = ServerName::try_from(host.to_string()).map_err(|e| TlsError {
        kind: TlsErrorKind::Handshake,
        message: format!("{host:?} is not a valid server name: {e}"),
    })?;
    let mut conn = ClientConnection::new(config.config.clone(), name)
        .map_err(|e| io::Error::from(TlsError::from_rustls(&e)))?;
    let mut sock = ReadBuf::new(sock);
    while conn.is_handshaking() {
        match conn.complete_io(&mut sock) {
            Ok(_) => {}
            Err(e) => return Err(handshake_error(e)),
        }
    }
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_string(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_string(),
        Some(v) => format!("{v:?}"),
        None => "unknown".to_string(),
    };
    // rustls says TLS13_AES_…; the IANA registry (and curl) TLS_AES_….
    let cipher_suite = conn
        .negotiated_cipher_suite()
        .and_then(|s| s.suite().as_str())
        .map_or_else(
            || "unknown".to_string(),
            |n| match n.strip_prefix("TLS13_") {
                Some(rest) => format!("TLS_{rest}"),
                None => n.to_string(),
            },
        );
    let alpn = conn
        .alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let peer_certificates = conn
        .peer_certificates()
        .map(|c| c.iter().map(|c| c.clone().into_owned()).collect())
        .unwrap_or_default();
    let verify = config.record.take(host).unwrap_or(Ok(()));
    Ok(TlsStream {
        inner: rustls::StreamOwned::new(conn, sock),
        info: TlsInfo {
            version,
            cipher_suite,
            alpn,
            peer_certificates,
            verify,
        },
        peer_close: None,
        notify_sent: false,
    })
}

/// An error during the handshake: rustls' own errors are classified, and
/// a peer that closes or resets mid-handshake is a handshake failure
/// (curl says 35); timeouts stay what they are.
fn handshake_error(e: io::Error) -> io::Error {
    if let Some(t) = TlsError::from_io(&e) {
        return t.into();
    }
    match e.kind() {
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => TlsError {
            kind: TlsErrorKind::Handshake,
            message: format!("connection lost during the handshake: {e}"),
        }
        .into(),
        // A socket read timeout surfaces as WouldBlock.
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => io::Error::new(
            io::ErrorKind::TimedOut,
            format!("TLS handshake timed out: {e}"),
        ),
        _ => e,
    }
}

impl<S: Read + Write> TlsStream<S> {
    /// What the handshake agreed on.
    pub fn info(&self) -> &TlsInfo {
        &self.info
    }

    /// The transport.
    pub fn get_ref(&self) -> &S {
        &self.inner.get_ref().inner
    }

    /// The transport, mutably (to set its timeouts).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner.get_mut().inner
    }

    /// How the peer closed, once a read has returned end-of-file.
    pub fn peer_close(&self) -> Option<PeerClose> {
        self.peer_close
    }

    /// Sends `close_notify` (RFC 8446 §6.1: "each party MUST send a
    /// close_notify alert before closing its write side") and flushes it
    /// to the transport; later calls do nothing. Nothing may be written
    /// after it.
    ///
    /// # Errors
    /// The transport's write error.
    pub fn close(&mut self) -> io::Result<()> {
        if self.notify_sent {
            return Ok(());
        }
        self.notify_sent = true;
        self.inner.conn.send_close_notify();
        // Bounded: the alert is one record, and a transport that accepts
        // nothing ends the loop with an error or a zero-length write.
        while self.inner.conn.wants_write() {
            if self.inner.conn.write_tls(&mut self.inner.sock)? == 0 {
                break;
            }
        }
        self.inner.sock.flush()
    }
}

impl<S: Read + Write> TlsStream<S> {
    /// One step of a clean teardown: one read from the transport, whose
    /// records are processed and whose plaintext is discarded (the
    /// response is complete: anything after it is not ours to deliver).
    /// After the peer's `close_notify`, bytes are read from the transport
    /// as they are, to see its FIN. Returns the bytes read; `Ok(0)` is
    /// the transport's EOF. [`TlsStream::peer_close`] then says whether
    /// the `close_notify` came.
    ///
    /// Why: a server that closes first sends `close_notify`, then its FIN;
    /// one that we close first answers our `close_notify` with its own or
    /// its FIN. Arriving after our socket closed, that record is data
    /// after close, which TCP answers with a bare RST (RFC 1122
    /// §4.2.2.13, as Linux does); reading it first leaves only FINs.
    ///
    /// One transport read per call, so that the caller, which owns the
    /// clock, can bound the whole drain in time and bytes: a peer that
    /// never closes must not hold it (this layer never reads the clock).
    /// [`TlsStream::buffered`] says whether a call would wait.
    ///
    /// # Errors
    /// The transport's error (its read timeout is `WouldBlock`), or a TLS
    /// error in what arrived; either way the caller just closes.
    pub fn drain_once(&mut self) -> io::Result<usize> {
        self.note_received()?;
        let n = if self.peer_close == Some(PeerClose::Notified) {
            // rustls reads nothing after close_notify: look past it.
            let mut scratch = [0u8; 1024];
            self.inner.sock.read(&mut scratch)?
        } else {
            let n = self.inner.conn.read_tls(&mut self.inner.sock)?;
            self.note_received()?;
            n
        };
        if n == 0 {
            self.peer_close.get_or_insert(PeerClose::Truncated);
        }
        Ok(n)
    }

    /// Processes the records already received and drops their plaintext
    /// (rustls refuses to read more while its plaintext buffer is full);
    /// no transport I/O. Returns how the peer has closed, if it has.
    ///
    /// # Errors
    /// A TLS error in what arrived.
    pub fn note_received(&mut self) -> io::Result<Option<PeerClose>> {
        let state = self
            .inner
            .conn
            .process_new_packets()
            .map_err(|e| io::Error::from(TlsError::from_rustls(&e)))?;
        let mut left = state.plaintext_bytes_to_read();
        let mut scratch = [0u8; 1024];
        while left > 0 {
            let want = left.min(scratch.len());
            let n = self
                .inner
                .conn
                .reader()
                .read(scratch.get_mut(..want).unwrap_or_default())?;
            if n == 0 {
                break;
            }
            left = left.saturating_sub(n);
        }
        if state.peer_has_closed() {
            self.peer_close.get_or_insert(PeerClose::Notified);
        }
        Ok(self.peer_close)
    }

    /// Marks the teardown done without our `close_notify`: for a peer
    /// that sent its own and closed its transport. Its socket is gone,
    /// nothing reads the alert, and its TCP would answer it with an RST;
    /// curl (8.9+) does not send it either. RFC 8446 §6.1 asks for the
    /// alert before closing our write side, but there is no one left to
    /// tell. (Dropping the stream sends none in any case.)
    pub fn skip_close_notify(&mut self) {
        self.notify_sent = true;
    }

    /// Bytes read from the transport and not yet processed: while there
    /// are, [`TlsStream::drain_once`] does not wait on the transport.
    pub fn buffered(&self) -> usize {
        let b = &self.inner.sock;
        b.len.saturating_sub(b.pos)
    }
}

impl<S: Read + Write> Read for TlsStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(0) if !buf.is_empty() => {
                self.peer_close.get_or_insert(PeerClose::Notified);
                Ok(0)
            }
            // rustls' "peer closed connection without sending TLS
            // close_notify": its own errors carry a rustls::Error instead.
            Err(e)
                if e.kind() == io::ErrorKind::UnexpectedEof && TlsError::from_io(&e).is_none() =>
            {
                self.peer_close = Some(PeerClose::Truncated);
                Ok(0)
            }
            r => r,
        }
    }
}

impl<S: Read + Write> Write for TlsStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The transport with a read buffer of its own. rustls asks for at most
/// 4 KiB per read; each read of a stack socket takes the stack's lock, so
/// a 16 KiB record would cost four of them. Reading up to [`READ_BUF`] at
/// once makes it one per several records (the extra copy is cheaper).
struct ReadBuf<S> {
    inner: S,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
}

/// How much [`ReadBuf`] reads from the transport at once.
const READ_BUF: usize = 64 * 1024;

impl<S> ReadBuf<S> {
    fn new(inner: S) -> ReadBuf<S> {
        ReadBuf {
            inner,
            buf: vec![0; READ_BUF].into_boxed_slice(),
            pos: 0,
            len: 0,
        }
    }
}

impl<S: Read> Read for ReadBuf<S> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.len {
            if out.len() >= self.buf.len() {
                return self.inner.read(out);
            }
            self.len = self.inner.read(&mut self.buf)?;
            self.pos = 0;
        }
        let ready = self.buf.get(self.pos..self.len).unwrap_or_default();
        let n = ready.len().min(out.len());
        out.get_mut(..n)
            .unwrap_or_default()
            .copy_from_slice(ready.get(..n).unwrap_or_default());
        self.pos += n;
        Ok(n)
    }
}

impl<S: Write> Write for ReadBuf<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A connection that is plain (`http://`) or TLS (`https://`).
#[derive(Debug)]
pub enum MaybeTls<S: Read + Write> {
    /// Cleartext.
    Plain(S),
    /// TLS over the transport.
    Tls(Box<TlsStream<S>>),
}

impl<S: Read + Write> MaybeTls<S> {
    /// The transport.
    pub fn get_ref(&self) -> &S {
        match self {
            MaybeTls::Plain(s) => s,
            MaybeTls::Tls(t) => t.get_ref(),
        }
    }

    /// The transport, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        match self {
            MaybeTls::Plain(s) => s,
            MaybeTls::Tls(t) => t.get_mut(),
        }
    }

    /// How the TLS peer closed (see [`TlsStream::peer_close`]); `None`
    /// for cleartext or while it has not.
    pub fn peer_close(&self) -> Option<PeerClose> {
        match self {
            MaybeTls::Plain(_) => None,
            MaybeTls::Tls(t) => t.peer_close(),
        }
    }

    /// The handshake's results, for a TLS connection.
    pub fn tls_info(&self) -> Option<&TlsInfo> {
        match self {
            MaybeTls::Plain(_) => None,
            MaybeTls::Tls(t) => Some(t.info()),
        }
    }
}

impl<S: Read + Write> Read for MaybeTls<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            MaybeTls::Plain(s) => s.read(buf),
            MaybeTls::Tls(t) => t.read(buf),
        }
    }
}

impl<S: Read + Write> Write for MaybeTls<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            MaybeTls::Plain(s) => s.write(buf),
            MaybeTls::Tls(t) => t.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            MaybeTls::Plain(s) => s.flush(),
            MaybeTls::Tls(t) => t.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that sends `bytes`, then closes (or resets); whatever the
    /// client writes is accepted and dropped.
    struct Peer {
        bytes: io::Cursor<Vec<u8>>,
        reset: bool,
    }

    impl Read for Peer {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.bytes.read(buf)?;
            if n == 0 && self.reset {
                return Err(io::ErrorKind::ConnectionReset.into());
            }
            Ok(n)
        }
    }

    impl Write for Peer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_peer_that_closes_or_resets_mid_record_is_a_handshake_failure() {
        let config = TlsConfig::builder().build().expect("config");
        // A ServerHello record header announcing 100 bytes, cut short at
        // every length; then garbage and an alert-shaped record.
        let full = [22u8, 3, 3, 0, 100, 2, 0, 0, 96, 3, 3, 7, 7, 7];
        let mut cases: Vec<Vec<u8>> = (0..=full.len()).map(|n| full[..n].to_vec()).collect();
        cases.push(b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec());
        cases.push(vec![21, 3, 3, 0, 2, 2, 40]);
        for bytes in cases {
            for reset in [false, true] {
                let peer = Peer {
                    bytes: io::Cursor::new(bytes.clone()),
                    reset,
                };
                let e = handshake(&config, "site.test", peer)
                    .err()
                    .unwrap_or_else(|| panic!("{bytes:?}: handshake succeeded"));
                let t = TlsError::from_io(&e)
                    .unwrap_or_else(|| panic!("{bytes:?} reset={reset}: not a TLS error: {e}"));
                assert_eq!(t.kind, TlsErrorKind::Handshake, "{bytes:?}: {t}");
            }
        }
    }

    #[test]
    fn a_cacert_without_certificates_is_a_config_error() {
        let dir = std::env::temp_dir().join(format!("tunstack-cacert-{}", std::process::id()));
        std::fs::write(&dir, "no certificate here\n").expect("write");
        let e = TlsConfig::builder().ca_file(&dir).expect_err("rejected");
        let _ = std::fs::remove_file(&dir);
        assert_eq!(e.kind, TlsErrorKind::Config);
        assert!(e.message.contains("no PEM certificate"), "{e}");
        let e = TlsConfig::builder()
            .ca_file(Path::new("/nonexistent/ca.pem"))
            .expect_err("rejected");
        assert!(e.message.contains("cannot read"), "{e}");
        let e = TlsConfig::builder()
            .root_certificates(vec![CertificateDer::from(vec![0x30, 0x00])])
            .build()
            .expect_err("rejected");
        assert_eq!(e.kind, TlsErrorKind::Config, "{e}");
    }
}
