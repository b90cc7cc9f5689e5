//! Certificates made at test time with the `openssl` CLI: CAs, a server
//! key, and leaf certificates for a host name (valid, or expired).

use std::path::Path;
use std::process::Command;

/// Runs `openssl args…` in `dir`, which must succeed.
pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA named `name`: `NAME.pem`, `NAME.key`.
pub fn make_ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            "30",
            "-subj",
            &format!("/O=tunstack tests/CN={name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

/// `OUT.pem` for `host`, signed by `ca`, with the server key `server.key`;
/// `expired` gives it a validity that ended in 2020.
pub fn make_leaf(dir: &Path, out: &str, host: &str, ca: &str, expired: bool) {
    std::fs::write(
        dir.join(format!("{out}.ext")),
        format!(
            "subjectAltName=DNS:{host}\nbasicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        ),
    )
    .unwrap();
    let csr = format!("{out}.csr");
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            "server.key",
            "-subj",
            &format!("/CN={host}"),
            "-out",
            &csr,
        ],
    );
    let ext = format!("{out}.ext");
    let pem = format!("{out}.pem");
    let (ca_pem, ca_key) = (format!("{ca}.pem"), format!("{ca}.key"));
    if expired {
        // `openssl x509` cannot date a certificate in the past; `openssl
        // ca` can, with a throwaway database.
        std::fs::write(dir.join("index.txt"), "").unwrap();
        std::fs::write(dir.join("serial"), "1000\n").unwrap();
        std::fs::write(
            dir.join("ca.cnf"),
            "[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\n\
             serial = serial\ndefault_md = sha256\npolicy = p\nunique_subject = no\n\
             [p]\ncommonName = supplied\n",
        )
        .unwrap();
        openssl(
            dir,
            &[
                "ca",
                "-batch",
                "-config",
                "ca.cnf",
                "-cert",
                &ca_pem,
                "-keyfile",
                &ca_key,
                "-in",
                &csr,
                "-out",
                &pem,
                "-startdate",
                "20200101000000Z",
                "-enddate",
                "20200201000000Z",
                "-extfile",
                &ext,
                "-notext",
            ],
        );
    } else {
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca_pem,
                "-CAkey",
                &ca_key,
                "-CAcreateserial",
                "-days",
                "30",
                "-extfile",
                &ext,
                "-out",
                &pem,
            ],
        );
    }
}

/// An EC (P-256) server key, `server.key`, for [`make_leaf`].
pub fn make_server_key(dir: &Path) {
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-out",
            "server.key",
        ],
    );
}
