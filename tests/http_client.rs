//! The library's HTTP client over the library's stack-backed connector,
//! exactly as a library user writes it:
//!
//! ```ignore
//! let client = http::Client::new(StackConnector::new(&stack));
//! client.get("http://www.tunstack.test/")
//! ```
//!
//! `www.tunstack.test` comes from the hosts file: the test runs in its own
//! network *and* mount namespace, with a hosts file bind-mounted over
//! `/etc/hosts` (and an empty resolv.conf over `/etc/resolv.conf`) for
//! this thread only, so `StackConnector::new` reads them as it would the
//! system's. The server is python3's http.server on the kernel side.

mod common;

use common::*;
use std::ffi::CString;
use std::io::{self, Read};
use std::net::SocketAddrV4;
use std::path::Path;
use std::time::Duration;
use tunstack::{http, StackConnector};

/// Moves this thread into a private mount namespace and bind-mounts
/// `file` over `target` there; the host's file is untouched.
fn bind_over(file: &Path, target: &str) {
    let c = |s: &str| CString::new(s).unwrap();
    let src = c(file.to_str().unwrap());
    let dst = c(target);
    let root = c("/");
    // SAFETY: plain syscalls with valid NUL-terminated strings. The
    // unshare affects this thread only; MS_PRIVATE keeps the bind mount
    // from propagating to the host's mount namespace.
    unsafe {
        assert_eq!(libc::unshare(libc::CLONE_NEWNS), 0, "unshare(CLONE_NEWNS)");
        assert_eq!(
            libc::mount(
                std::ptr::null(),
                root.as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null()
            ),
            0,
            "make / private: {}",
            io::Error::last_os_error()
        );
        assert_eq!(
            libc::mount(
                src.as_ptr(),
                dst.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND,
                std::ptr::null()
            ),
            0,
            "bind {target}: {}",
            io::Error::last_os_error()
        );
    }
}

#[test]
fn the_library_client_fetches_a_hosts_file_name_through_the_stack() {
    let dir = TempDir::new("http-client");
    let (stack, pcap) = netns_captured(&dir);
    let hosts = dir.path().join("hosts");
    std::fs::write(
        &hosts,
        "127.0.0.1 localhost\n10.0.0.1 www.tunstack.test www # the kernel side\n",
    )
    .unwrap();
    let resolv = dir.path().join("resolv.conf");
    std::fs::write(
        &resolv,
        "# no nameserver: names come from the hosts file only\n",
    )
    .unwrap();
    bind_over(&hosts, "/etc/hosts");
    bind_over(&resolv, "/etc/resolv.conf");

    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    let page = b"<h1>served by python, fetched by tunstack</h1>\n".repeat(500);
    std::fs::write(www.join("index.html"), &page).unwrap();
    let _server = Daemon::spawn(
        dir.path(),
        "python3",
        &[
            "-m",
            "http.server",
            "80",
            "--bind",
            "10.0.0.1",
            "--directory",
            www.to_str().unwrap(),
        ],
    );
    wait_for_listener(SocketAddrV4::new(KERNEL, 80));

    let client = http::Client::new(StackConnector::new(&stack));
    let mut resp = client.get("http://www.tunstack.test/").expect("GET");
    assert_eq!(resp.status(), 200);
    let mut body = Vec::new();
    resp.read_to_end(&mut body).unwrap();
    assert_eq!(sha256(&body), sha256(&page));
    drop(resp);

    // The short alias on the same line, and the same server by address.
    let mut resp = client.get("http://www/missing.html").expect("GET alias");
    assert_eq!(resp.status(), 404);
    resp.read_to_end(&mut Vec::new()).unwrap();
    drop(resp); // its connection closes now, not at the end of the test
    let mut resp = client.get("http://10.0.0.1/").expect("GET literal");
    assert_eq!(resp.status(), 200);
    body.clear();
    resp.read_to_end(&mut body).unwrap();
    assert_eq!(body.len(), page.len());
    drop(resp);

    // A name in no hosts file, with no nameserver to ask, is an error.
    match client.get("http://nowhere.tunstack.test/") {
        Ok(r) => panic!("resolved an unknown name: {}", r.status()),
        Err(e) => assert!(e.to_string().contains("nowhere.tunstack.test"), "{e}"),
    }
    drop(client);
    assert!(stack.shutdown(Duration::from_secs(5)));
    check_capture(&pcap);
}
